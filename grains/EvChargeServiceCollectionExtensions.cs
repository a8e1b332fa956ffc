using EvCharge.Payments;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Orleans.Runtime;

namespace EvCharge;

public static class EvChargeServiceCollectionExtensions
{
    /// <summary>The wallet providers a charger may name; the sandbox adapter answers for all of them in development.</summary>
    public static readonly string[] DefaultProviders = ["kakaopay", "naverpay", "tosspay", "sandbox"];

    /// <summary>
    /// What every silo's grains need besides storage and the ledger: options, the clock, and the registry of
    /// payment gateways by provider name (resolved per call, so typed HttpClients keep their handler rotation).
    /// </summary>
    public static IServiceCollection AddEvChargeCore(this IServiceCollection services, Action<EvChargeOptions>? configure = null, IEnumerable<string>? providers = null)
    {
        var options = services.AddOptions<EvChargeOptions>();
        if (configure is not null) options.Configure(configure);
        services.TryAddSingleton(TimeProvider.System);
        var names = (providers ?? DefaultProviders).ToArray();
        services.TryAddSingleton<IPaymentGatewayRegistry>(sp => new ServiceProviderGatewayRegistry(sp, names));
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>, Grains.SessionSweeperStartup>();
        return services;
    }

    private sealed class ServiceProviderGatewayRegistry(IServiceProvider services, IReadOnlyCollection<string> providers) : IPaymentGatewayRegistry
    {
        private readonly HashSet<string> _providers = new(providers, StringComparer.OrdinalIgnoreCase);
        public IReadOnlyCollection<string> Providers => _providers;

        public bool TryGet(string provider, out IPaymentGateway gateway)
        {
            gateway = _providers.Contains(provider) ? services.GetRequiredService<IPaymentGateway>() : null!;
            return gateway is not null;
        }
    }
}
