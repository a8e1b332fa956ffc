namespace EvCharge.Payments;

/// <summary>Resolves the gateway that speaks for a wallet provider name ("kakaopay", "naverpay", "tosspay", "sandbox").</summary>
public interface IPaymentGatewayRegistry
{
    bool TryGet(string provider, out IPaymentGateway gateway);
    IReadOnlyCollection<string> Providers { get; }

    /// <summary>
    /// The adapter for a driver's wallet <paramref name="provider"/> at a charger of <paramref name="cpoId"/>: the CPO's
    /// contract may route that wallet to its own merchant account (<c>Payments:Routes:{cpoId}:{provider}</c>).
    /// </summary>
    bool Resolve(string provider, string? cpoId, out IPaymentGateway gateway) => TryGet(provider, out gateway);

    /// <summary>
    /// The entry name <see cref="Resolve"/> picks for <paramref name="provider"/> at <paramref name="cpoId"/> (the name a
    /// session keeps and later calls <see cref="TryGet"/> with), or null when nothing answers for it.
    /// </summary>
    string? ResolveName(string provider, string? cpoId) => TryGet(provider, out _) ? provider : null;
}

public sealed class PaymentGatewayRegistry(IReadOnlyDictionary<string, IPaymentGateway> gateways) : IPaymentGatewayRegistry
{
    private readonly Dictionary<string, IPaymentGateway> _gateways = new(gateways, StringComparer.OrdinalIgnoreCase);
    public bool TryGet(string provider, out IPaymentGateway gateway) => _gateways.TryGetValue(provider, out gateway!);
    public IReadOnlyCollection<string> Providers => _gateways.Keys;
}
