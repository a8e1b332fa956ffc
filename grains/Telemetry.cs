using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace EvCharge;

/// <summary>The ActivitySource and Meter every EvCharge component reports through (name "EvCharge").</summary>
public static class EvChargeTelemetry
{
    public const string Name = "EvCharge";
    public static readonly ActivitySource Source = new(Name);
    public static readonly Meter Meter = new(Name);

    public static readonly Histogram<double> AuthorizationLatency =
        Meter.CreateHistogram<double>("evcharge.authorization.duration", "ms", "Provider authorization (hold) latency");
    public static readonly Counter<long> SessionTransitions =
        Meter.CreateCounter<long>("evcharge.sessions.transitions", description: "Session state changes, tagged by the state entered");
    public static readonly Counter<long> CaptureFailures =
        Meter.CreateCounter<long>("evcharge.capture.failures", description: "Captures that failed (unavailable or definite)");
    public static readonly Counter<long> CapturedWon =
        Meter.CreateCounter<long>("evcharge.captured.krw", "KRW", "Money captured from wallets");
}
