using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using EvCharge.IntegrationTests.Infrastructure;
using EvCharge.SocialSandbox;

namespace EvCharge.IntegrationTests.Api;

/// <summary>
/// The silo host in the cluster profile: Orleans, ledger and session index on a real PostgreSQL reached through
/// <see cref="TcpRelay"/> (closing the relay is the database going away for this silo, reopening it is recovery),
/// and a sandbox on a fixed loopback port that the test stops and starts again.
/// </summary>
public sealed class PostgresApiHost(PostgresServer postgres) : ApiHost
{
    public TcpRelay Relay { get; private set; } = null!;
    public Uri SandboxUrl { get; } = new($"http://127.0.0.1:{FreePort()}");

    public override async Task InitializeAsync()
    {
        var connectionString = await postgres.CreateDatabaseAsync("api_health");
        Relay = new TcpRelay(IPAddress.Loopback, postgres.Port);
        Relay.Start();
        _connectionString = new Npgsql.NpgsqlConnectionStringBuilder(connectionString) { Port = Relay.Port }.ToString();
        await base.InitializeAsync();
    }

    private string _connectionString = "";

    protected override Task<RunningSandbox> StartSandboxAsync() => SocialSandboxHost.StartAsync(new SandboxOptions(), SandboxUrl.ToString());

    protected override Dictionary<string, string?> Storage() => new()
    {
        ["Storage:Provider"] = "Postgres", ["Storage:ConnectionString"] = _connectionString,
    };

    public async Task StopSandboxAsync() => await Sandbox.DisposeAsync();
    public async Task RestartSandboxAsync() => Sandbox = await StartSandboxAsync();

    public override async Task DisposeAsync()
    {
        Relay.Start();
        await base.DisposeAsync();
        Relay.Dispose();
    }
}

/// <summary>Issue 5, test 3: readiness follows the database and the wallet provider down and back up.</summary>
[Collection("postgres")]
public class HealthTests(PostgresServer postgres) : IAsyncLifetime
{
    private PostgresApiHost _host = null!;

    public async Task InitializeAsync()
    {
        _host = new PostgresApiHost(postgres);
        await _host.InitializeAsync();
    }

    public Task DisposeAsync() => _host.DisposeAsync();

    [Fact]
    public async Task Ready_turns_unhealthy_when_postgres_or_the_wallet_provider_is_unreachable_and_healthy_again_after()
    {
        using var http = _host.Client(key: null);
        var (status, checks) = await ReadyAsync(http);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("Healthy", checks.GetProperty("database").GetProperty("status").GetString());
        Assert.Contains("Postgres", checks.GetProperty("database").GetProperty("description").GetString());

        _host.Relay.Stop();
        (status, checks) = await ReadyAsync(http);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Equal("Unhealthy", checks.GetProperty("database").GetProperty("status").GetString());
        Assert.Equal("Healthy", checks.GetProperty("wallet-provider").GetProperty("status").GetString());
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/health/live")).StatusCode); // liveness ignores dependencies
        _host.Relay.Start();
        (status, checks) = await ReadyAsync(http);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("Healthy", checks.GetProperty("database").GetProperty("status").GetString());

        await _host.StopSandboxAsync();
        (status, checks) = await ReadyAsync(http);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Equal("Unhealthy", checks.GetProperty("wallet-provider").GetProperty("status").GetString());
        Assert.Equal("Healthy", checks.GetProperty("database").GetProperty("status").GetString());
        await _host.RestartSandboxAsync();
        (status, checks) = await ReadyAsync(http);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("Healthy", checks.GetProperty("wallet-provider").GetProperty("status").GetString());
        Assert.Equal("Healthy", checks.GetProperty("mqtt-broker").GetProperty("status").GetString());
    }

    private static async Task<(HttpStatusCode, JsonElement)> ReadyAsync(HttpClient http)
    {
        var response = await http.GetAsync("/health/ready");
        return (response.StatusCode, (await response.ReadJsonAsync()).GetProperty("checks"));
    }
}

/// <summary>
/// A loopback TCP relay to a real server. Stop closes the listener and every relayed connection, so new connections
/// are refused like a server that went away; Start listens on the same port again.
/// </summary>
public sealed class TcpRelay(IPAddress target, int targetPort) : IDisposable
{
    private readonly Lock _gate = new();
    private readonly List<TcpClient> _open = [];
    private TcpListener? _listener;
    private CancellationTokenSource? _stop;

    public int Port { get; private set; }

    public void Start()
    {
        lock (_gate)
        {
            if (_listener is not null) return;
            _listener = new TcpListener(IPAddress.Loopback, Port);
            _listener.Start();
            Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
            _stop = new CancellationTokenSource();
            _ = AcceptAsync(_listener, _stop.Token);
        }
    }

    public void Stop()
    {
        lock (_gate)
        {
            _stop?.Cancel();
            _listener?.Stop();
            _listener = null;
            foreach (var c in _open) c.Dispose();
            _open.Clear();
        }
    }

    private async Task AcceptAsync(TcpListener listener, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            TcpClient inbound;
            try { inbound = await listener.AcceptTcpClientAsync(ct); }
            catch (Exception) { return; }
            var outbound = new TcpClient();
            try { await outbound.ConnectAsync(target, targetPort, ct); }
            catch (Exception) { inbound.Dispose(); outbound.Dispose(); continue; }
            lock (_gate) { _open.Add(inbound); _open.Add(outbound); }
            _ = PumpAsync(inbound, outbound, ct);
            _ = PumpAsync(outbound, inbound, ct);
        }
    }

    private static async Task PumpAsync(TcpClient from, TcpClient to, CancellationToken ct)
    {
        try { await from.GetStream().CopyToAsync(to.GetStream(), ct); }
        catch (Exception) { /* either side closed */ }
        from.Dispose();
        to.Dispose();
    }

    public void Dispose() => Stop();
}
