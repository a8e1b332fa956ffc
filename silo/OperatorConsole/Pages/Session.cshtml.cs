using EvCharge.Charging;
using EvCharge.Ledger;
using EvCharge.Silo.Apis;
using Microsoft.AspNetCore.Mvc;

namespace EvCharge.Silo.OperatorConsole.Pages;

/// <summary>
/// One session: meter timeline, fee breakdown, hold, split, receipt and its ledger journals; the operator refunds
/// (with a reason) and resumes a session waiting for attention here.
/// </summary>
public sealed class SessionModel(IGrainFactory grains, ILedger ledger) : ConsolePage
{
    public SessionDetail Detail { get; private set; } = null!;
    public SessionResponse S => Detail.Session;
    public long Refundable => S.State == SessionState.Settled ? S.Captured - S.Refunded : 0;
    /// <summary>A fresh key per rendered form: a double-submitted refund replays the first answer instead of refunding twice.</summary>
    public string RefundKey { get; } = Guid.NewGuid().ToString("N");
    public string? RefundError { get; private set; }

    public async Task<IActionResult> OnGetAsync(string sessionId, CancellationToken ct)
    {
        var (view, problem) = await SessionsApi.Visible(sessionId, User, grains);
        if (problem is not null) return NotFoundPage($"No session {sessionId}.");
        Detail = await SessionsApi.DetailAsync(view!, Scope, ledger, ct);
        return Page();
    }

    public async Task<IActionResult> OnPostRefundAsync(string sessionId, long? amount, string? reason, string? idempotencyKey, CancellationToken ct)
    {
        if (!IsOperator) return Forbid(ConsoleAuth.Scheme);
        if (string.IsNullOrWhiteSpace(reason))
            return await Refused(sessionId, "A refund needs a reason.", ct);
        var (response, problem) = await PaymentsApi.RefundAsync(sessionId, "console:" + idempotencyKey, new RefundBody(amount, reason.Trim()), User, grains);
        if (problem is not null) return await Refused(sessionId, Describe(problem), ct, problem.StatusCode);
        Tell(response!.Status == "succeeded"
            ? $"Refunded {ConsoleFormat.Krw(response.Amount)}: " + string.Join(", ", response.Reversals.Select(r => $"{r.PayeeAccount} {ConsoleFormat.Krw(r.Amount)}"))
            : $"The provider did not answer; the refund of {ConsoleFormat.Krw(response.Amount)} is retried by the session on its own.");
        return RedirectToPage(new { sessionId });
    }

    public async Task<IActionResult> OnPostResumeAsync(string sessionId)
    {
        if (!IsOperator) return Forbid(ConsoleAuth.Scheme);
        var (_, problem) = await SessionsApi.Visible(sessionId, User, grains);
        if (problem is not null) return NotFoundPage($"No session {sessionId}.");
        var view = await grains.GetGrain<IChargingSessionGrain>(sessionId).Resume();
        Tell($"Resumed: the session is now {view.State}.", view.State is not (SessionState.NeedsAttention or SessionState.Debt));
        return RedirectToPage(new { sessionId });
    }

    private async Task<IActionResult> Refused(string sessionId, string error, CancellationToken ct, int status = StatusCodes.Status400BadRequest)
    {
        var (view, problem) = await SessionsApi.Visible(sessionId, User, grains);
        if (problem is not null) return NotFoundPage($"No session {sessionId}.");
        Detail = await SessionsApi.DetailAsync(view!, Scope, ledger, ct);
        RefundError = error;
        Response.StatusCode = status;
        return Page();
    }
}
