namespace EvCharge.Payments;

/// <summary>
/// Payment codes and billing keys are bearer secrets: whoever holds one can spend from the wallet. They never
/// reach a log in clear; this is the one way to show them.
/// </summary>
public static class PaymentSecrets
{
    public static string Mask(string? secret) => secret switch
    {
        null or "" => "",
        { Length: <= 4 } => "****",
        _ => new string('*', Math.Min(secret.Length - 4, 8)) + secret[^4..],
    };

    /// <summary>"code ********1234" or "billing key ********abcd", for log lines about an authorization.</summary>
    public static string DescribeInstrument(AuthorizeRequest request) => request.PaymentCode is not null
        ? "code " + Mask(request.PaymentCode)
        : "billing key " + Mask(request.BillingToken);
}
