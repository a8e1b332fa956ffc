using System.Text.Json;
using EvCharge.Ledger;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace EvCharge.Silo.Health;

public static class HealthExtensions
{
    public const string ReadyTag = "ready";

    /// <summary>Readiness checks for the ledger database, the wallet provider and the MQTT broker.</summary>
    public static IServiceCollection AddEvChargeHealth(this IServiceCollection services, LedgerOptions ledger, Uri walletProvider)
    {
        services.AddSingleton(new LedgerDatabaseHealthCheck(ledger));
        services.AddSingleton(new WalletProviderEndpoint(walletProvider));
        services.AddHttpClient(WalletProviderHealthCheck.HttpClientName, c => c.Timeout = TimeSpan.FromSeconds(3));
        services.AddHealthChecks()
            .AddCheck<LedgerDatabaseHealthCheck>("database", HealthStatus.Unhealthy, [ReadyTag])
            .AddCheck<WalletProviderHealthCheck>("wallet-provider", HealthStatus.Unhealthy, [ReadyTag])
            .AddCheck<MqttBrokerHealthCheck>("mqtt-broker", HealthStatus.Unhealthy, [ReadyTag]);
        return services;
    }

    /// <summary>
    /// <c>/health/live</c>: the process answers (no dependency checks, so a database outage does not get the silo
    /// restarted). <c>/health/ready</c> and <c>/health</c>: every dependency, 503 when one is down. Anonymous, for probes.
    /// </summary>
    public static IEndpointRouteBuilder MapEvChargeHealth(this IEndpointRouteBuilder app)
    {
        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false, ResponseWriter = Write }).AllowAnonymous();
        var ready = new HealthCheckOptions { Predicate = c => c.Tags.Contains(ReadyTag), ResponseWriter = Write };
        app.MapHealthChecks("/health/ready", ready).AllowAnonymous();
        app.MapHealthChecks("/health", ready).AllowAnonymous();
        return app;
    }

    private static Task Write(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync(JsonSerializer.Serialize(new
        {
            status = report.Status.ToString(),
            checks = report.Entries.ToDictionary(e => e.Key, e => new { status = e.Value.Status.ToString(), description = e.Value.Description }),
        }, JsonSerializerOptions.Web));
    }
}
