namespace EvCharge.Payments.Providers;

/// <summary>
/// What a payment code or a saved credential is at each real provider, parsed in one place (docs/payments.md).
/// Codes and tokens are bearer secrets: they are parsed here and never logged.
/// </summary>
public static class PaymentCredentials
{
    /// <summary>
    /// Toss one-time code <c>{orderId}:{paymentKey}</c>: the phone finished Toss's payment window for the checkout
    /// <c>orderId</c> (the amount was the hold) and got <c>paymentKey</c> on the success URL.
    /// </summary>
    public static bool TryTossPaymentCode(string? code, out string orderId, out string paymentKey) =>
        TrySplit(code, out orderId, out paymentKey);

    /// <summary>Toss saved credential <c>{customerKey}:{billingKey}</c> (auto-payment billing key, BrandPay-registered or card).</summary>
    public static bool TryTossBillingKey(string? token, out string customerKey, out string billingKey) =>
        TrySplit(token, out customerKey, out billingKey);

    /// <summary>KakaoPay one-time code <c>{tid}:{pg_token}</c>: the phone approved the checkout's ready <c>tid</c>.</summary>
    public static bool TryKakaoPaymentCode(string? code, out string tid, out string pgToken) =>
        TrySplit(code, out tid, out pgToken);

    /// <summary>KakaoPay saved credential <c>{partner_user_id}:{sid}</c>, the SID issued by the first subscription approve.</summary>
    public static bool TryKakaoSid(string? token, out string partnerUserId, out string sid) =>
        TrySplit(token, out partnerUserId, out sid);

    /// <summary>Stripe one-time code: a PaymentMethod id (<c>pm_…</c>) the phone created with Stripe.js or a wallet.</summary>
    public static bool TryStripePaymentMethod(string? code, out string paymentMethod)
    {
        paymentMethod = code ?? "";
        return code is { Length: > 3 } && code.StartsWith("pm_", StringComparison.Ordinal) && !code.Contains(':');
    }

    /// <summary>Stripe saved credential <c>{customer}:{paymentMethod}</c> (<c>cus_…:pm_…</c>), charged off-session.</summary>
    public static bool TryStripeSaved(string? token, out string customer, out string paymentMethod) =>
        TrySplit(token, out customer, out paymentMethod)
        && customer.StartsWith("cus_", StringComparison.Ordinal) && paymentMethod.StartsWith("pm_", StringComparison.Ordinal);

    private static bool TrySplit(string? value, out string left, out string right)
    {
        left = right = "";
        if (string.IsNullOrEmpty(value)) return false;
        var i = value.IndexOf(':');
        if (i <= 0 || i == value.Length - 1) return false;
        left = value[..i];
        right = value[(i + 1)..];
        return !right.Contains(':');
    }

    /// <summary>VAT included in a KRW amount, half up (KakaoPay computes it the same way when it is not sent).</summary>
    public static long VatOf(long amount) => Domain.Vat.Of(amount);
}
