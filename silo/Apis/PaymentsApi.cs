using System.Security.Claims;
using EvCharge.Charging;
using EvCharge.Silo.Security;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace EvCharge.Silo.Apis;

/// <summary>Omit <c>amount</c> for a full refund of what is still refundable.</summary>
public sealed record RefundBody(long? Amount = null, string? Reason = null);

/// <summary><c>status</c>: <c>succeeded</c>, or <c>provider_unavailable_retrying</c> (202: the session retries on its own).</summary>
public sealed record RefundResponse(string SessionId, string? RefundId, long Amount, IReadOnlyList<SplitResponse> Reversals, string Status);

/// <summary>Money-moving operations on a settled session. Each needs an Idempotency-Key header.</summary>
public static class PaymentsApi
{
    public const string IdempotencyHeader = "Idempotency-Key";

    public static RouteGroupBuilder MapPaymentsApi(this RouteGroupBuilder api)
    {
        api.MapPost("/sessions/{sessionId}/refunds", Refund).WithTags("Payments").RequireAuthorization(EvChargePolicies.Operator)
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity)
            .WithSummary("Refund a settled session in full or in part; the split is reversed pro rata across payees")
            .WithDescription("Requires an Idempotency-Key header (1-128 printable characters). Replaying the same key with the same body returns the first answer; the same key with another amount is refused with 409.");
        return api;
    }

    private static async Task<Results<Created<RefundResponse>, Accepted<RefundResponse>, ProblemHttpResult>> Refund(string sessionId,
        [FromHeader(Name = IdempotencyHeader)] string? idempotencyKey, RefundBody? body, ClaimsPrincipal user, IGrainFactory grains)
    {
        var (response, problem) = await RefundAsync(sessionId, idempotencyKey, body, user, grains);
        if (problem is not null) return problem;
        if (response!.Status == "succeeded") return TypedResults.Created($"/api/v1/sessions/{sessionId}", response);
        return TypedResults.Accepted($"/api/v1/sessions/{sessionId}", response);
    }

    /// <summary>
    /// Validates and carries out a refund (the API and the console's refund form). A response with status
    /// <c>succeeded</c> or <c>provider_unavailable_retrying</c>, or the problem that stopped it.
    /// </summary>
    internal static async Task<(RefundResponse? Response, ProblemHttpResult? Problem)> RefundAsync(string sessionId, string? idempotencyKey,
        RefundBody? body, ClaimsPrincipal user, IGrainFactory grains)
    {
        var e = new FieldErrors();
        if (string.IsNullOrWhiteSpace(idempotencyKey)) e.Add(IdempotencyHeader, "header is required on requests that move money");
        else if (idempotencyKey.Length > 128 || idempotencyKey.Any(char.IsControl)) e.Add(IdempotencyHeader, "must be 1-128 printable characters");
        body ??= new RefundBody();
        e.Range("amount", body.Amount, 1, 10_000_000, required: false);
        if (body.Reason is { Length: > 256 }) e.Add("reason", "must be at most 256 characters");
        if (e.Any) return (null, e.ToResult());

        var (view, problem) = await SessionsApi.Visible(sessionId, user, grains);
        if (problem is not null) return (null, problem);
        var amount = body.Amount ?? view!.Captured - view.Refunded;
        if (view!.State != SessionState.Settled) return (null, ApiProblems.Conflict($"Session {sessionId} is {view.State}; only settled sessions are refunded.", "session_not_settled"));
        if (amount <= 0) return (null, ApiProblems.Conflict($"Session {sessionId} has nothing left to refund.", "nothing_to_refund"));

        var outcome = await grains.GetGrain<IChargingSessionGrain>(sessionId).Refund(amount, $"api:{idempotencyKey}", body.Reason);
        var response = new RefundResponse(sessionId, outcome.RefundId, outcome.Amount, outcome.Reversals.Select(r => r.ToResponse()).ToList(),
            outcome.Succeeded ? "succeeded" : outcome.Error ?? "failed");
        return outcome switch
        {
            { Succeeded: true } or { Error: "provider_unavailable_retrying" } => (response, null),
            { Error: "idempotency_key_reuse" } => (null, ApiProblems.Conflict("This Idempotency-Key was used for a refund of another amount.", "idempotency_key_reuse")),
            { Error: "session_not_settled" } => (null, ApiProblems.Conflict($"Session {sessionId} is not settled.", "session_not_settled")),
            { Error: "refund_exceeds_captured" } => (null, ApiProblems.Unprocessable($"{amount} KRW exceeds what is left to refund ({view.Captured - view.Refunded} KRW).", "refund_exceeds_captured")),
            _ => (null, ApiProblems.Unprocessable($"The provider refused the refund: {outcome.Error}.", outcome.Error)),
        };
    }
}
