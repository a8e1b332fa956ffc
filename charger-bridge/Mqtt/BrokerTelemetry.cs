using System.Diagnostics.Metrics;

namespace EvCharge.ChargerBridge.Mqtt;

/// <summary>Metrics of the embedded broker (meter "EvCharge.ChargerBridge", exported by the silo).</summary>
public static class BrokerTelemetry
{
    public const string MeterName = "EvCharge.ChargerBridge";
    private static readonly Meter Meter = new(MeterName);

    /// <summary>Messages dropped because a subscriber's queue was full: should stay 0.</summary>
    public static readonly Counter<long> Dropped =
        Meter.CreateCounter<long>("evcharge.broker.dropped", description: "MQTT messages the embedded broker dropped from a full subscriber queue");
}
