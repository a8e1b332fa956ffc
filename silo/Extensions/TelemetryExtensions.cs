using Microsoft.Extensions.Logging;
using System.Diagnostics.Metrics;
using EvCharge.Charging;
using EvCharge.Sessions;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace EvCharge.Silo.Extensions;

/// <summary>
/// OpenTelemetry for the silo: traces from EvCharge's ActivitySource, Orleans grain calls (with
/// <c>AddActivityPropagation</c> on the silo, see <see cref="SiloHostExtensions"/>), ASP.NET Core and HttpClient
/// (the wallet provider calls), recorded when an OTLP endpoint (<c>OTEL_EXPORTER_OTLP_ENDPOINT</c>) or
/// <c>Telemetry:Tracing</c> asks for them, sampled by <c>Telemetry:TraceSampleRatio</c>; metrics from the "EvCharge"
/// meter plus sessions by state, always, with a Prometheus scrape at <c>/metrics</c>.
/// </summary>
public static class TelemetryExtensions
{
    /// <summary>Orleans' tracing sources (grain calls, client and server side).</summary>
    public static readonly string[] OrleansSources = ["Microsoft.Orleans.Runtime", "Microsoft.Orleans.Application"];

    public static WebApplicationBuilder AddEvChargeTelemetry(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<SessionStateGauge>();
        var config = builder.Configuration;
        var exporting = Exporting(config);
        var otel = builder.Services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService(config["OTEL_SERVICE_NAME"] ?? "evcharge-silo"))
            .WithMetrics(m => m
                .AddMeter(EvChargeTelemetry.Name, SessionStateGauge.MeterName, EvCharge.ChargerBridge.Mqtt.BrokerTelemetry.MeterName)
                .AddAspNetCoreInstrumentation()
                .AddHttpClientInstrumentation()
                .AddPrometheusExporter());
        // Spans cost on every OCPP frame and grain call, so they are recorded only where they go somewhere (an OTLP
        // endpoint, or Telemetry:Tracing=true for an exporter added in code), and then for the share of traces that
        // Telemetry:TraceSampleRatio names (default all); a sampled charger frame carries its decision to the grains.
        if (TracingEnabled(config))
            otel.WithTracing(t => t
                .SetSampler(new ParentBasedSampler(new TraceIdRatioBasedSampler(config.GetValue("Telemetry:TraceSampleRatio", 1.0))))
                .AddSource(EvChargeTelemetry.Name)
                .AddSource(EvCharge.ChargerBridge.Ocpp.OcppDispatcher.ActivitySourceName)
                .AddSource(OrleansSources)
                // A charger's WebSocket is one HTTP request that lasts as long as the charger is connected: not a span.
                // Each OCPP CALL on it is its own trace (OcppDispatcher), as over MQTT.
                .AddAspNetCoreInstrumentation(o => o.Filter = ctx =>
                    !ctx.Request.Path.StartsWithSegments("/metrics") && !ctx.Request.Path.StartsWithSegments("/health")
                    && !ctx.Request.Path.StartsWithSegments(EvCharge.ChargerBridge.WebSockets.OcppWebSocketOptions.PathPrefix))
                .AddHttpClientInstrumentation());
        if (exporting) otel.UseOtlpExporter();
        return builder;
    }

    private static bool Exporting(IConfiguration config) => !string.IsNullOrWhiteSpace(config["OTEL_EXPORTER_OTLP_ENDPOINT"]);

    /// <summary>Spans are recorded: an OTLP endpoint is configured, or Telemetry:Tracing=true.</summary>
    public static bool TracingEnabled(IConfiguration config) => Exporting(config) || config.GetValue("Telemetry:Tracing", false);

    public static WebApplication MapEvChargeTelemetry(this WebApplication app)
    {
        app.Services.GetRequiredService<SessionStateGauge>(); // creates the observable gauge
        app.MapPrometheusScrapingEndpoint("/metrics");
        return app;
    }
}

/// <summary>
/// <c>evcharge.sessions.by_state</c>: sessions per state, from the session index. Observable callbacks are
/// synchronous, so the gauge reports the last snapshot and refreshes it in the background at most every 15 s.
/// </summary>
internal sealed class SessionStateGauge : IDisposable
{
    public const string MeterName = "EvCharge.Operations";
    private static readonly TimeSpan RefreshEvery = TimeSpan.FromSeconds(15);
    private readonly Meter _meter = new(MeterName);
    private readonly ISessionStatistics? _statistics;
    private readonly TimeProvider _time;
    private IReadOnlyDictionary<SessionState, long> _snapshot = new Dictionary<SessionState, long>();
    private DateTimeOffset _refreshedAt = DateTimeOffset.MinValue;
    private int _refreshing;

    private readonly ILogger<SessionStateGauge>? _logger;

    public SessionStateGauge(IServiceProvider services, TimeProvider time)
    {
        _statistics = services.GetService<ISessionStatistics>();
        _logger = services.GetService<ILogger<SessionStateGauge>>();
        _time = time;
        _meter.CreateObservableGauge("evcharge.sessions.by_state", Observe, description: "Sessions per state (session index)");
    }

    private IEnumerable<Measurement<long>> Observe()
    {
        if (_statistics is not null && _time.GetUtcNow() - _refreshedAt > RefreshEvery && Interlocked.Exchange(ref _refreshing, 1) == 0)
            _ = Task.Run(async () =>
            {
                // Bounded: a refresh stuck on a busy database must not stop every later one.
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                try { _snapshot = await _statistics.CountByStateAsync(timeout.Token); _refreshedAt = _time.GetUtcNow(); }
                catch (Exception ex)
                {
                    // The database health check reports outages; keep the last snapshot and try again on the next scrape.
                    _logger?.LogWarning(ex, "Sessions-by-state gauge could not refresh its snapshot");
                }
                finally { Volatile.Write(ref _refreshing, 0); }
            });
        return _snapshot.Select(kv => new Measurement<long>(kv.Value, new KeyValuePair<string, object?>("state", kv.Key.ToString())));
    }

    public void Dispose() => _meter.Dispose();
}
