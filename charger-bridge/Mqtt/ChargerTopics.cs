using MQTTnet;
using MQTTnet.Protocol;

namespace EvCharge.ChargerBridge.Mqtt;

/// <summary>One topic pair per charger: <c>evc/v1/chargers/{id}/up</c> (charger to server) and <c>.../down</c>.</summary>
public static class ChargerTopics
{
    public const string Prefix = "evc/v1/chargers/";
    public const string UpSuffix = "/up";
    public const string DownSuffix = "/down";

    /// <summary>Every charger's up topic, for the bridge's subscription.</summary>
    public const string AllUp = Prefix + "+" + UpSuffix;
    public const string All = Prefix + "#";

    /// <summary>Longest charger id; OCPP's chargeBoxIdentity is commonly limited to 48 characters.</summary>
    public const int MaxChargerIdLength = 48;

    public static string Up(string chargerId) => Prefix + chargerId + UpSuffix;
    public static string Down(string chargerId) => Prefix + chargerId + DownSuffix;

    public static string SharedUp(string group) => $"$share/{group}/{AllUp}";

    /// <summary>An OCPP-J frame for a charger's down topic, however it is delivered (published or queued in-process).</summary>
    public static MqttApplicationMessage DownMessage(string chargerId, byte[] frame, MqttQualityOfServiceLevel qos) =>
        new MqttApplicationMessageBuilder().WithTopic(Down(chargerId)).WithPayload(frame)
            .WithQualityOfServiceLevel(qos).WithContentType("application/json").Build();

    /// <summary>Charger ids are also MQTT usernames, client ids and topic levels: letters, digits, '.', '_', '-'.</summary>
    public static bool IsValidChargerId(ReadOnlySpan<char> id)
    {
        if (id.IsEmpty || id.Length > MaxChargerIdLength) return false;
        foreach (var c in id)
            if (!(char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-')) return false;
        return true;
    }

    public static bool TryParseUp(string topic, out string chargerId) => TryParse(topic, UpSuffix, out chargerId);
    public static bool TryParseDown(string topic, out string chargerId) => TryParse(topic, DownSuffix, out chargerId);

    private static bool TryParse(string topic, string suffix, out string chargerId)
    {
        chargerId = "";
        if (!topic.StartsWith(Prefix, StringComparison.Ordinal) || !topic.EndsWith(suffix, StringComparison.Ordinal))
            return false;
        var id = topic.AsSpan(Prefix.Length, topic.Length - Prefix.Length - suffix.Length);
        if (!IsValidChargerId(id)) return false;
        chargerId = id.ToString();
        return true;
    }
}
