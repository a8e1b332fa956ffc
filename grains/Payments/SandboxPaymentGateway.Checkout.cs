using System.Net.Http.Json;

namespace EvCharge.Payments;

/// <summary>
/// The sandbox's phone checkout (docs/sandbox.md, "Checkouts"): <c>POST /v1/checkouts</c> opens it, the phone approves on
/// the sandbox's wallet page, which sends it back to our approval URL with <c>?approval={code}</c>, a one-time payment
/// code good only for this checkout's order and amount.
/// </summary>
public sealed partial class SandboxPaymentGateway : ICheckoutApproval
{
    public async Task<CheckoutSession> PrepareCheckoutAsync(CheckoutRequest request, string idempotencyKey, CancellationToken ct = default)
    {
        var wire = new CheckoutWire(request.CheckoutId, request.Amount, request.DriverRef, request.ItemName,
            request.ApprovalUrl, request.CancelUrl, request.FailUrl);
        using var response = await SendAsync(HttpMethod.Post, "v1/checkouts", wire, idempotencyKey, "checkout", ct);
        if (!response.IsSuccessStatusCode)
        {
            var problem = await ReadProblemAsync(response, ct);
            throw new InvalidOperationException($"the sandbox refused the checkout: {problem.Code} {problem.Detail}");
        }
        var opened = (await response.Content.ReadFromJsonAsync<CheckoutOpenedWire>(SandboxWire.Json, ct))!;
        return new CheckoutSession(request.CheckoutId, true, opened.CheckoutId, opened.RedirectUrl,
            new Dictionary<string, string>(), "the approval code the wallet page adds to the approval URL (?approval=)");
    }

    string? ICheckoutApproval.PaymentCodeFromApproval(string? providerReference, IReadOnlyDictionary<string, string> query) =>
        query.TryGetValue("approval", out var code) && code is { Length: > 0 and <= 64 } ? code : null;
}

internal sealed record CheckoutWire(
    string OrderId, long Amount, string DriverRef, string ItemName, Uri ApprovalUrl, Uri CancelUrl, Uri FailUrl);

internal sealed record CheckoutOpenedWire(string CheckoutId, string OrderId, long Amount, Uri RedirectUrl, string Status);
