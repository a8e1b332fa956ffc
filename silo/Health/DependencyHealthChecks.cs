using System.Net.Sockets;
using EvCharge.ChargerBridge.Extensions;
using EvCharge.ChargerBridge.Mqtt;
using EvCharge.Ledger;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Npgsql;

namespace EvCharge.Silo.Health;

/// <summary>
/// The ledger's database answers a query. A fresh, unpooled connection each time: a pooled one could hide that
/// the server went away until the next real write fails.
/// </summary>
public sealed class LedgerDatabaseHealthCheck(LedgerOptions options) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken ct = default)
    {
        try
        {
            if (options.IsPostgres)
            {
                var b = new NpgsqlConnectionStringBuilder(options.ConnectionString) { Pooling = false, Timeout = 3, CommandTimeout = 3 };
                await using var c = new NpgsqlConnection(b.ToString());
                await c.OpenAsync(ct);
                await using var cmd = new NpgsqlCommand("SELECT count(*) FROM ledger_journals WHERE false", c);
                await cmd.ExecuteScalarAsync(ct);
            }
            else
            {
                var b = new SqliteConnectionStringBuilder(options.ConnectionString!.Contains('=') ? options.ConnectionString : $"Data Source={options.ConnectionString}")
                    { Mode = SqliteOpenMode.ReadWrite, Pooling = false };
                await using var c = new SqliteConnection(b.ToString());
                await c.OpenAsync(ct);
                await using var cmd = c.CreateCommand();
                cmd.CommandText = "SELECT count(*) FROM ledger_journals WHERE 0";
                await cmd.ExecuteScalarAsync(ct);
            }
            return HealthCheckResult.Healthy($"{options.Provider} ledger database answers");
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            // The exception type only: driver messages can carry host names and user names.
            return HealthCheckResult.Unhealthy($"{options.Provider} ledger database unreachable ({ex.GetType().Name})");
        }
    }
}

/// <summary>The wallet provider's <c>GET /health</c> answers 2xx.</summary>
public sealed class WalletProviderHealthCheck(IHttpClientFactory http, WalletProviderEndpoint endpoint) : IHealthCheck
{
    public const string HttpClientName = "evcharge-wallet-health";

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken ct = default)
    {
        try
        {
            using var client = http.CreateClient(HttpClientName);
            using var response = await client.GetAsync(new Uri(endpoint.BaseAddress, "health"), ct);
            return response.IsSuccessStatusCode
                ? HealthCheckResult.Healthy("wallet provider answers")
                : HealthCheckResult.Unhealthy($"wallet provider answered {(int)response.StatusCode}");
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            return HealthCheckResult.Unhealthy($"wallet provider unreachable ({ex.GetType().Name})");
        }
    }
}

public sealed record WalletProviderEndpoint(Uri BaseAddress);

/// <summary>
/// The charger bridge is connected to its MQTT broker (the bridge's own flag). A silo with the bridge turned off
/// checks that the configured broker port accepts TCP connections instead, since stand-alone bridges rely on it.
/// </summary>
public sealed class MqttBrokerHealthCheck(IOptions<ChargerBridgeOptions> options, IServiceProvider services) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken ct = default)
    {
        var o = options.Value;
        if (o.Enabled && services.GetService<MqttChargerBridge>() is { } bridge)
            return bridge.IsConnected
                ? HealthCheckResult.Healthy("charger bridge connected to its broker")
                : HealthCheckResult.Unhealthy("charger bridge not connected to its broker");
        try
        {
            using var tcp = new TcpClient();
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(3));
            await tcp.ConnectAsync(o.Broker == BrokerMode.Embedded ? "127.0.0.1" : o.Host, o.Port, timeout.Token);
            return HealthCheckResult.Healthy("MQTT broker port accepts connections");
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException)
        {
            return HealthCheckResult.Unhealthy($"MQTT broker port {o.Port} unreachable ({ex.GetType().Name})");
        }
    }
}
