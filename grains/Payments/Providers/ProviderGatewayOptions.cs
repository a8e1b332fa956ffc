namespace EvCharge.Payments.Providers;

/// <summary>
/// One configured wallet provider (section <c>Payments:Providers:{name}</c>): which adapter, where, with which keys.
/// Secrets come from configuration (environment variables, a secret store bound into configuration) and are never
/// logged: <see cref="ToString"/> masks them.
/// </summary>
public sealed class ProviderGatewayOptions
{
    /// <summary><c>Toss</c>, <c>KakaoPay</c>, <c>Stripe</c> or <c>Sandbox</c>.</summary>
    public string Kind { get; set; } = "Sandbox";

    /// <summary>The provider's API root (https://api.tosspayments.com/, https://open-api.kakaopay.com/, https://api.stripe.com/).</summary>
    public Uri? BaseUrl { get; set; }

    /// <summary>Toss secret key (test_sk_…/live_sk_…), KakaoPay secret key (DEV…/PRD…), Stripe secret key (sk_test_…).</summary>
    public string? SecretKey { get; set; }

    /// <summary>Stripe: the endpoint's signing secret (whsec_…). Toss: the security key that signs payout webhooks.</summary>
    public string? WebhookSecret { get; set; }

    /// <summary>Toss payouts: the 64-hex-digit security key that encrypts payout requests (JWE dir + A256GCM).</summary>
    public string? SecurityKey { get; set; }

    /// <summary>KakaoPay merchant code for one-time payments (test: TC0ONETIME).</summary>
    public string? Cid { get; set; }

    /// <summary>KakaoPay merchant code for SID (subscription) payments (test: TCSUBSCRIP).</summary>
    public string? SubscriptionCid { get; set; }

    /// <summary>
    /// Payee account (as the CPO contract names it) → the provider's account for it: a Stripe connected account
    /// (acct_…) or a Toss payout seller id. Payees not listed (and the platform) keep their part in the merchant
    /// balance and are settled from EvCharge's ledger.
    /// </summary>
    public Dictionary<string, string> Payees { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Stripe: ask for incremental authorization on cards that support it.</summary>
    public bool RequestIncrementalAuthorization { get; set; } = true;

    /// <summary>
    /// Stripe: how long a hold lives (7 days for card payments). Toss/KakaoPay: how long EvCharge may keep a deposit
    /// open before settling it (their partial cancels are possible far longer).
    /// </summary>
    public TimeSpan HoldLifetime { get; set; } = TimeSpan.FromDays(7);

    /// <summary>The order name / item name shown on the driver's statement.</summary>
    public string ItemName { get; set; } = "EV charging";

    public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromSeconds(10);
    public TimeSpan TotalTimeout { get; set; } = TimeSpan.FromSeconds(60);
    public int MaxRetryAttempts { get; set; } = 5;
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromMilliseconds(200);
    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromSeconds(5);

    public override string ToString() =>
        $"{Kind} at {BaseUrl} (secret {PaymentSecrets.Mask(SecretKey)}, webhook secret {PaymentSecrets.Mask(WebhookSecret)})";

    internal SandboxGatewayOptions ToResilience() => new()
    {
        AttemptTimeout = AttemptTimeout, TotalTimeout = TotalTimeout, MaxRetryAttempts = MaxRetryAttempts,
        RetryBaseDelay = RetryBaseDelay, MaxRetryDelay = MaxRetryDelay, HoldLifetime = HoldLifetime,
    };
}
