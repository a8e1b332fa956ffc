namespace EvCharge.ChargerBridge.Mqtt;

/// <summary>Where the embedded broker delivers a charger's uplink frame when the bridge runs in the same process.</summary>
public interface IChargerUplink
{
    /// <summary>Queues the frame for the charger's lane; completes when it is queued (waits while the lane is full).</summary>
    ValueTask AcceptUplinkAsync(string chargerId, byte[] frame);
}

/// <summary>How the in-process bridge puts a frame on a charger's down topic without a round trip through its MQTT client.</summary>
public interface IChargerDownlink
{
    /// <summary>Queues the frame for the charger's subscribed sessions; returns how many (0: not connected or subscribed).</summary>
    ValueTask<int> DeliverDownlinkAsync(string chargerId, byte[] frame);
}
