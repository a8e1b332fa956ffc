namespace EvCharge.Payments;

/// <summary>
/// A provider whose phone checkout (<see cref="IPaymentGateway.PrepareCheckoutAsync"/>) ends by sending the phone back to
/// our approval URL: what that return carries is turned into the one-time payment code its
/// <see cref="IPaymentGateway.AuthorizeAsync"/> takes (the sandbox's approval code; KakaoPay's <c>{tid}:{pg_token}</c>).
/// Scan &amp; Charge offers only providers that implement it.
/// </summary>
public interface ICheckoutApproval
{
    /// <param name="providerReference">The checkout's <see cref="CheckoutSession.ProviderReference"/>.</param>
    /// <param name="query">The query parameters of the return to the approval URL.</param>
    /// <returns>The payment code, or null when the return carries no approval.</returns>
    string? PaymentCodeFromApproval(string? providerReference, IReadOnlyDictionary<string, string> query);
}
