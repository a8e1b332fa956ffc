using EvCharge.ChargerBridge.Extensions;
using EvCharge.Silo.Persistence;
using EvCharge.Silo.Security;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Options;

namespace EvCharge.Silo.Extensions;

/// <summary>What the start-up report needs to know that only the builder knew.</summary>
public sealed record StartupFacts(StorageProfile Storage, Uri WalletProvider, bool EmbeddedWalletProvider, FirstRunOperatorKey.Notice? FirstRunKey);

/// <summary>
/// Once the server listens: one block saying what an operator needs to know about this silo (addresses, the
/// console, database, broker, wallet provider, where the first-run operator key is) and warnings about its set-up.
/// Library chatter is kept below the default log level instead (appsettings.json, <see cref="SiloHostExtensions"/>).
/// </summary>
internal sealed class StartupReport(
    StartupFacts facts, IServer server, IHostApplicationLifetime lifetime, IHostEnvironment environment, ApiKeyStore keys,
    IOptions<ChargerBridgeOptions> bridge, ILogger<StartupReport> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        lifetime.ApplicationStarted.Register(Report);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private void Report()
    {
        var addresses = server.Features.Get<IServerAddressesFeature>()?.Addresses.ToList() ?? [];
        var first = addresses.Select(a => a.Replace("://[::]", "://localhost").Replace("://0.0.0.0", "://localhost").Replace("://+", "://localhost"))
            .FirstOrDefault() ?? "http://127.0.0.1:5080";
        var b = bridge.Value;
        var broker = !b.Enabled ? "this silo runs no MQTT bridge (ChargerBridge:Enabled=false)"
            : b.Broker == BrokerMode.Embedded ? $"embedded MQTT broker on port {b.Port}" + (string.IsNullOrEmpty(b.PfxPath) ? "" : $", TLS on {b.TlsPort}")
            : $"external MQTT broker {b.Host}:{b.Port}{(b.UseTls ? " (TLS)" : "")}";
        var provider = facts.EmbeddedWalletProvider
            ? $"embedded social-sandbox at {facts.WalletProvider} (development wallet provider)"
            : $"{facts.WalletProvider}";
        logger.LogInformation(
            "EvCharge silo started ({Environment}).\n  HTTP:            {Addresses}\n  console:         {Console}\n  API reference:   {Docs}\n" +
            "  database:        {Database}\n  charger broker:  {Broker}\n  wallet provider: {Provider}",
            environment.EnvironmentName, string.Join(", ", addresses), $"{first.TrimEnd('/')}/console", $"{first.TrimEnd('/')}/docs",
            Describe(facts.Storage), broker, provider);

        if (facts.FirstRunKey is { } key)
        {
            if (key.PermissionsTightened)
                logger.LogWarning("{Path} was readable by other users; its permissions are now owner-only (0600).", key.Path);
            logger.LogInformation(
                "No API keys are configured, so the operator key in {Path} ({State}, readable by its owner only) is in use. " +
                "Sign in at {Console} with its contents, or send it as X-Api-Key. Configure Auth:ApiKeys to replace it (docs/api.md).",
                key.Path, key.Created ? "created now" : "kept from an earlier start", $"{first.TrimEnd('/')}/console");
        }
        else if (keys.Count == 0)
        {
            logger.LogWarning("No API keys are configured (Auth:ApiKeys): every /api/v1 call and console sign-in will be refused. See docs/api.md.");
        }
        if (environment.IsDevelopment() && keys.Count > 0)
            logger.LogWarning("Development environment: the API keys in appsettings.Development.json are public; never use them outside a laptop.");
    }

    /// <summary>Where the data is, without a password.</summary>
    private static string Describe(StorageProfile storage)
    {
        if (storage.Provider == StorageProvider.Sqlite)
        {
            var path = storage.EffectiveConnectionString;
            if (path.Contains('=')) path = new Microsoft.Data.Sqlite.SqliteConnectionStringBuilder(path).DataSource;
            return $"SQLite {Path.GetFullPath(path)}";
        }
        var pg = new Npgsql.NpgsqlConnectionStringBuilder(storage.EffectiveConnectionString);
        return $"PostgreSQL {pg.Host}:{pg.Port}/{pg.Database} as {pg.Username}";
    }
}
