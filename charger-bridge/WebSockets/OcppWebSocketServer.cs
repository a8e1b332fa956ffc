using System.Net;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EvCharge.ChargerBridge.WebSockets;

/// <summary>
/// The chargers' WebSocket listener: its own Kestrel server (ws:// on <see cref="OcppWebSocketOptions.Port"/>, wss:// on
/// <see cref="OcppWebSocketOptions.TlsPort"/>) that serves nothing but <c>/ocpp/{chargerId}</c>. Kept apart from the
/// silo's HTTP surface so chargers never reach the operators' API and the silo's <c>Urls</c> stay as they are; the
/// same class runs inside the silo and in the stand-alone charger-bridge process.
/// </summary>
public sealed class OcppWebSocketServer(
    WebSocketHub hub,
    IOptions<OcppWebSocketOptions> options,
    ILoggerFactory loggerFactory,
    IHostApplicationLifetime lifetime) : IHostedService, IAsyncDisposable
{
    private readonly OcppWebSocketOptions _options = options.Value;
    private readonly ILogger _logger = loggerFactory.CreateLogger<OcppWebSocketServer>();
    private WebApplication? _app;
    private Task? _sweeper;
    private readonly CancellationTokenSource _stop = new();

    /// <summary>The endpoint URLs served, once started.</summary>
    public IReadOnlyList<string> Addresses { get; private set; } = [];

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (!_options.Enabled) return;
        var tlsCertificate = LoadServerCertificate();
        if (_options.Port <= 0 && (tlsCertificate is null || _options.TlsPort <= 0))
        {
            _logger.LogWarning("OCPP WebSocket endpoint enabled but neither a ws:// port nor a wss:// port with a certificate is configured");
            return;
        }

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], EnvironmentName = Environments.Production });
        // Only what is configured here: not the host's Urls or Kestrel sections, which belong to its own HTTP surface.
        builder.Configuration.Sources.Clear();
        builder.Configuration.AddInMemoryCollection();
        builder.WebHost.UseSetting(WebHostDefaults.ServerUrlsKey, ""); // the listeners below are all there is
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(loggerFactory); // the host's logging, not a second configuration
        // Started and stopped by the host that owns this service, not by signals of its own.
        builder.Services.AddSingleton<IHostLifetime, OwnedLifetime>();
        builder.Services.AddSingleton(hub);
        // A site's chargers come back all at once after an outage: Kestrel's listen backlog of 512 overflows and the
        // rest wait out TCP's SYN retransmits (the same lesson as the MQTT broker's ConnectionBacklog).
        builder.WebHost.UseSockets(o => o.Backlog = Math.Max(128, _options.ConnectionBacklog));
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            // Chargers send small frames; the upgrade request is all Kestrel reads before the socket is ours.
            kestrel.Limits.MaxRequestHeadersTotalSize = 16 * 1024;
            kestrel.Limits.MaxRequestBodySize = 0;
            if (_options.Port > 0) Listen(kestrel, _options.Port, listen => { });
            if (tlsCertificate is not null && _options.TlsPort > 0)
                Listen(kestrel, _options.TlsPort, listen => listen.UseHttps(new HttpsConnectionAdapterOptions
                {
                    ServerCertificate = tlsCertificate,
                    // Asked of every TLS client; profile 3 chargers present one. It is checked at the upgrade against
                    // the charger CA and the charger id (ChargerLogin), where the refusal can be logged and throttled.
                    ClientCertificateMode = ClientCertificateMode.AllowCertificate,
                    ClientCertificateValidation = (_, _, _) => true,
                    CheckCertificateRevocation = false,
                }));
        });
        _app = builder.Build();
        _app.UseWebSockets();
        _app.Run(OcppWebSocketEndpoint.HandleAsync);
        await _app.StartAsync(cancellationToken);
        Addresses = [.. (_options.Port > 0 ? [$"ws://{_options.Host}:{_options.Port}{OcppWebSocketOptions.PathPrefix}/{{chargerId}}"] : Array.Empty<string>()),
            .. (tlsCertificate is not null && _options.TlsPort > 0 ? [$"wss://{_options.Host}:{_options.TlsPort}{OcppWebSocketOptions.PathPrefix}/{{chargerId}}"] : Array.Empty<string>())];
        _logger.LogInformation("OCPP WebSocket endpoint on {Addresses} (subprotocol {Subprotocol}; profile 1 {Profile1})",
            string.Join(", ", Addresses), OcppWebSocketOptions.Subprotocol, _options.AllowBasicAuthWithoutTls ? "allowed" : "refused");

        // Chargers are closed with 1001 as soon as the host starts stopping, before Kestrel waits for open requests.
        lifetime.ApplicationStopping.Register(() => _ = hub.CloseAllAsync(TimeSpan.FromSeconds(Math.Max(1, _options.CloseTimeoutSeconds))));
        _sweeper = SweepIdleAsync(_stop.Token);
    }

    private void Listen(KestrelServerOptions kestrel, int port, Action<ListenOptions> configure)
    {
        if (_options.Host is "*" or "" or "0.0.0.0" or "::") kestrel.ListenAnyIP(port, configure);
        else kestrel.Listen(IPAddress.Parse(_options.Host), port, configure);
    }

    private X509Certificate2? LoadServerCertificate()
    {
        if (string.IsNullOrWhiteSpace(_options.CertificatePath)) return null;
        var path = _options.CertificatePath;
        if (!string.IsNullOrWhiteSpace(_options.CertificateKeyPath))
            return string.IsNullOrEmpty(_options.CertificatePassword)
                ? X509Certificate2.CreateFromPemFile(path, _options.CertificateKeyPath)
                : X509Certificate2.CreateFromEncryptedPemFile(path, _options.CertificatePassword, _options.CertificateKeyPath);
        return X509CertificateLoader.LoadPkcs12FromFile(path, _options.CertificatePassword);
    }

    private async Task SweepIdleAsync(CancellationToken ct)
    {
        if (_options.IdleTimeoutSeconds <= 0) return;
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(Math.Clamp(_options.IdleTimeoutSeconds / 4.0, 1, 30)), hub.Time);
        try
        {
            while (await timer.WaitForNextTickAsync(ct)) hub.CloseIdle();
        }
        catch (OperationCanceledException) { }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _stop.Cancel();
        if (_sweeper is not null) await _sweeper;
        if (_app is null) return;
        await hub.CloseAllAsync(TimeSpan.FromSeconds(Math.Max(1, _options.CloseTimeoutSeconds)));
        await _app.StopAsync(cancellationToken);
    }

    private sealed class OwnedLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null) await _app.DisposeAsync();
        _stop.Dispose();
    }
}
