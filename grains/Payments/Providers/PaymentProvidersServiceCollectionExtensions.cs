using EvCharge.Ledger;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;

namespace EvCharge.Payments.Providers;

public static class PaymentProvidersServiceCollectionExtensions
{
    public static readonly string[] Kinds = ["Sandbox", "Toss", "KakaoPay", "Stripe"];

    /// <summary>
    /// Registers the real-provider adapters configured under <c>Payments:Providers:{name}</c> (Kind, BaseUrl, keys;
    /// see docs/payments.md) as keyed <see cref="IPaymentGateway"/> singletons, each with its own typed HttpClient and
    /// resilience pipeline, the payment-operation journal on <paramref name="journalStore"/>, and a registry that
    /// resolves a wallet provider name (optionally per CPO, <c>Payments:Routes:{cpoId}:{provider} = {name}</c>) to
    /// its adapter. Names not configured, or configured as Kind=Sandbox, fall back to the sandbox adapter.
    /// </summary>
    public static IServiceCollection AddPaymentProviders(
        this IServiceCollection services, IConfiguration payments, LedgerOptions journalStore, IEnumerable<string>? sandboxNames = null)
    {
        ArgumentNullException.ThrowIfNull(payments);
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<IPaymentOperationJournal>(sp =>
        {
            var journal = SqlPaymentOperationJournal.Create(journalStore, sp.GetRequiredService<TimeProvider>());
            if (journalStore.EnsureSchema) journal.EnsureSchemaAsync().GetAwaiter().GetResult();
            return journal;
        });

        var real = new List<string>();
        foreach (var section in payments.GetSection("Providers").GetChildren())
        {
            var name = section.Key;
            var options = new ProviderGatewayOptions();
            section.Bind(options);
            if (!Kinds.Contains(options.Kind, StringComparer.OrdinalIgnoreCase))
                throw new ArgumentException($"Payments:Providers:{name}:Kind '{options.Kind}' is not one of {string.Join(", ", Kinds)}");
            if (string.Equals(options.Kind, "Sandbox", StringComparison.OrdinalIgnoreCase)) continue;
            if (options.BaseUrl is null) throw new ArgumentException($"Payments:Providers:{name}:BaseUrl is required for Kind {options.Kind}");
            if (string.IsNullOrWhiteSpace(options.SecretKey)) throw new ArgumentException($"Payments:Providers:{name}:SecretKey is required for Kind {options.Kind}");
            services.AddProviderGateway(name, options);
            real.Add(name);
        }

        var routes = payments.GetSection("Routes").GetChildren()
            .SelectMany(cpo => cpo.GetChildren().Select(p => (Key: $"{cpo.Key}/{p.Key}", Name: p.Value!)))
            .ToDictionary(r => r.Key, r => r.Name, StringComparer.OrdinalIgnoreCase);
        var sandbox = (sandboxNames ?? EvChargeServiceCollectionExtensions.DefaultProviders).ToArray();
        services.RemoveAll<IPaymentGatewayRegistry>();
        services.AddSingleton<IPaymentGatewayRegistry>(sp => new ConfiguredPaymentGatewayRegistry(sp, real, sandbox, routes));
        return services;
    }

    /// <summary>One adapter under <paramref name="name"/> (also what tests use to build one against a provider-shaped server).</summary>
    public static IServiceCollection AddProviderGateway(this IServiceCollection services, string name, ProviderGatewayOptions options)
    {
        var client = $"payments:{name}";
        services.AddHttpClient(client, c =>
            {
                c.BaseAddress = options.BaseUrl;
                c.Timeout = Timeout.InfiniteTimeSpan; // the pipeline's time-outs rule
            })
            .AddResilienceHandler(client, pipeline => ProviderHttp.Configure(pipeline, options));
        services.AddKeyedSingleton<IPaymentGateway>(name, (sp, _) =>
        {
            var factory = sp.GetRequiredService<IHttpClientFactory>();
            HttpClient Http() => factory.CreateClient(client); // per call: handler rotation stays with the factory
            var time = sp.GetRequiredService<TimeProvider>();
            var logs = sp.GetRequiredService<ILoggerFactory>();
            return options.Kind.ToLowerInvariant() switch
            {
                "toss" => new TossPaymentsGateway(name, Http, options, sp.GetRequiredService<IPaymentOperationJournal>(), time, logs.CreateLogger<TossPaymentsGateway>()),
                "kakaopay" => new KakaoPayGateway(name, Http, options, sp.GetRequiredService<IPaymentOperationJournal>(), time, logs.CreateLogger<KakaoPayGateway>()),
                "stripe" => new StripeGateway(name, Http, options, time, logs.CreateLogger<StripeGateway>()),
                _ => throw new ArgumentException($"no adapter for Kind {options.Kind}"),
            };
        });
        return services;
    }
}

/// <summary>
/// Provider name → adapter: configured real providers by name, the rest of the known names to the sandbox adapter.
/// <see cref="Resolve"/> adds the CPO contract's choice: a CPO may have its own merchant account at a provider.
/// </summary>
public sealed class ConfiguredPaymentGatewayRegistry(
    IServiceProvider services, IReadOnlyCollection<string> configured, IReadOnlyCollection<string> sandboxNames,
    IReadOnlyDictionary<string, string> routes) : IPaymentGatewayRegistry
{
    private readonly HashSet<string> _configured = new(configured, StringComparer.OrdinalIgnoreCase);
    private readonly HashSet<string> _all = new(configured.Concat(sandboxNames), StringComparer.OrdinalIgnoreCase);

    public IReadOnlyCollection<string> Providers => _all;

    public bool TryGet(string provider, out IPaymentGateway gateway)
    {
        if (_configured.Contains(provider))
        {
            gateway = services.GetRequiredKeyedService<IPaymentGateway>(_configured.First(n => string.Equals(n, provider, StringComparison.OrdinalIgnoreCase)));
            return true;
        }
        gateway = _all.Contains(provider) ? services.GetRequiredService<IPaymentGateway>() : null!;
        return gateway is not null;
    }

    /// <summary>The adapter for a driver's wallet <paramref name="provider"/> at a charger of <paramref name="cpoId"/>.</summary>
    public bool Resolve(string provider, string? cpoId, out IPaymentGateway gateway) =>
        cpoId is not null && routes.TryGetValue($"{cpoId}/{provider}", out var name) && TryGet(name, out gateway)
        || TryGet(provider, out gateway);

    public string? ResolveName(string provider, string? cpoId) =>
        cpoId is not null && routes.TryGetValue($"{cpoId}/{provider}", out var name) && TryGet(name, out _) ? name
        : TryGet(provider, out _) ? provider : null;
}
