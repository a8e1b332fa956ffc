namespace EvCharge.Payments.Providers;

/// <summary>
/// KakaoPay sends the phone back to the ready's <c>approval_url</c> with <c>?pg_token=</c>; with the ready's tid that is
/// the one-time payment code <see cref="KakaoPayGateway.AuthorizeAsync"/> approves (<c>{tid}:{pg_token}</c>).
/// </summary>
public sealed partial class KakaoPayGateway : ICheckoutApproval
{
    string? ICheckoutApproval.PaymentCodeFromApproval(string? providerReference, IReadOnlyDictionary<string, string> query) =>
        providerReference is { Length: > 0 } tid && query.TryGetValue("pg_token", out var token) && token is { Length: > 0 and <= 64 }
            && !token.Contains(':')
            ? $"{tid}:{token}"
            : null;
}
