namespace EvCharge.Payments;

/// <summary>Resolves the gateway that speaks for a wallet provider name ("kakaopay", "naverpay", "tosspay", "sandbox").</summary>
public interface IPaymentGatewayRegistry
{
    bool TryGet(string provider, out IPaymentGateway gateway);
    IReadOnlyCollection<string> Providers { get; }
}

public sealed class PaymentGatewayRegistry(IReadOnlyDictionary<string, IPaymentGateway> gateways) : IPaymentGatewayRegistry
{
    private readonly Dictionary<string, IPaymentGateway> _gateways = new(gateways, StringComparer.OrdinalIgnoreCase);
    public bool TryGet(string provider, out IPaymentGateway gateway) => _gateways.TryGetValue(provider, out gateway!);
    public IReadOnlyCollection<string> Providers => _gateways.Keys;
}
