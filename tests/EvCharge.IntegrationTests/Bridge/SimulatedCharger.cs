using System.Buffers;
using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using EvCharge.ChargerBridge.Mqtt;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace EvCharge.IntegrationTests.Bridge;

/// <summary>
/// A simulated charger on some transport: sends OCPP-J text frames, matches answers to its calls by message id, and
/// keeps every other frame (server CALLs, unexpected answers) for inspection. <see cref="SimulatedCharger"/> is MQTT,
/// <see cref="WebSocketCharger"/> is OCPP-J over WebSocket.
/// </summary>
public abstract class TestCharger : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, TaskCompletionSource<JsonElement>> _pending = new();
    private readonly Channel<JsonElement> _other = Channel.CreateUnbounded<JsonElement>();
    private int _nextId;

    protected TestCharger(string chargerId) => ChargerId = chargerId;

    public string ChargerId { get; }
    public abstract bool IsConnected { get; }

    /// <summary>Sends one frame as the transport carries it (MQTT: a QoS 1 publish on the up topic; WebSocket: a text message).</summary>
    public abstract Task SendAsync(string text);

    protected void OnFrame(ReadOnlySpan<byte> utf8)
    {
        JsonElement frame;
        try { frame = JsonDocument.Parse(utf8.ToArray()).RootElement.Clone(); }
        catch (JsonException) { return; }
        // Answers are matched to our calls; anything else (server CALLs, duplicates) is kept for inspection.
        if (frame.ValueKind == JsonValueKind.Array && frame[0].GetInt32() is 3 or 4
            && _pending.TryRemove(frame[1].GetString()!, out var waiter))
            waiter.TrySetResult(frame);
        else
            _other.Writer.TryWrite(frame);
    }

    public string NewId() => $"{ChargerId}-{Interlocked.Increment(ref _nextId)}";

    /// <summary>Sends a CALL and returns the whole answer frame ([3,...] or [4,...]).</summary>
    public Task<JsonElement> CallAsync(string action, object payload, string? messageId = null) =>
        CallRawAsync(action, JsonSerializer.Serialize(payload), messageId);

    public Task<JsonElement> CallRawAsync(string action, string payloadJson, string? messageId = null)
    {
        var id = messageId ?? NewId();
        return SendRawAsync($"[2,{JsonSerializer.Serialize(id)},{JsonSerializer.Serialize(action)},{payloadJson}]", id);
    }

    /// <summary>Sends any text and waits for the answer carrying <paramref name="expectedId"/>.</summary>
    public async Task<JsonElement> SendRawAsync(string text, string expectedId, TimeSpan? timeout = null)
    {
        var waiter = new TaskCompletionSource<JsonElement>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[expectedId] = waiter;
        await SendAsync(text);
        return await waiter.Task.WaitAsync(timeout ?? TimeSpan.FromSeconds(20));
    }

    /// <summary>The next frame that was not an answer to one of our calls (a server CALL, or an unexpected answer).</summary>
    public async Task<JsonElement> NextOtherFrameAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        return await _other.Reader.ReadAsync(cts.Token);
    }

    public bool TryReadOtherFrame(out JsonElement frame) => _other.Reader.TryRead(out frame);

    public abstract ValueTask DisposeAsync();
}

/// <summary>A charger on a real MQTT connection: publishes OCPP-J frames on its up topic and reads its down topic.</summary>
public sealed class SimulatedCharger : TestCharger
{
    private readonly IMqttClient _client;

    private SimulatedCharger(IMqttClient client, string chargerId) : base(chargerId)
    {
        _client = client;
        _client.ApplicationMessageReceivedAsync += e =>
        {
            OnFrame(e.ApplicationMessage.Payload.ToArray());
            return Task.CompletedTask;
        };
    }

    public IMqttClient Client => _client;
    public override bool IsConnected => _client.IsConnected;

    public static MqttClientOptions Options(int port, string username, string password, string? clientId = null,
        MqttProtocolVersion version = MqttProtocolVersion.V500) =>
        new MqttClientOptionsBuilder()
            .WithTcpServer("127.0.0.1", port)
            .WithClientId(clientId ?? username)
            .WithCredentials(username, password)
            .WithProtocolVersion(version)
            .WithCleanStart(true)
            .WithTimeout(TimeSpan.FromSeconds(5))
            .Build();

    /// <summary>Connects (retrying briefly while a broker reloads its password file) and subscribes to the down topic.</summary>
    public static async Task<SimulatedCharger> ConnectAsync(int port, string chargerId, string password, bool subscribe = true)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        var charger = new SimulatedCharger(client, chargerId);
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                var result = await client.ConnectAsync(Options(port, chargerId, password));
                if (result.ResultCode == MqttClientConnectResultCode.Success) break;
            }
            catch (Exception) when (attempt < 20) { }
            await Task.Delay(250);
        }
        if (subscribe)
        {
            var sub = await client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
                .WithTopicFilter(ChargerTopics.Down(chargerId), MqttQualityOfServiceLevel.AtLeastOnce).Build());
            Assert.Equal(MqttClientSubscribeResultCode.GrantedQoS1, sub.Items.Single().ResultCode);
        }
        return charger;
    }

    public override async Task SendAsync(string text)
    {
        var published = await PublishAsync(ChargerTopics.Up(ChargerId), text);
        Assert.True(published.IsSuccess, $"publish refused: {published.ReasonCode}");
    }

    public Task<MqttClientPublishResult> PublishAsync(string topic, string text) =>
        _client.PublishAsync(new MqttApplicationMessageBuilder()
            .WithTopic(topic)
            .WithPayload(Encoding.UTF8.GetBytes(text))
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .Build());

    public override async ValueTask DisposeAsync()
    {
        try
        {
            if (_client.IsConnected) await _client.DisconnectAsync();
        }
        catch (Exception) { }
        _client.Dispose();
    }
}

/// <summary>Reads the parts of answer frames the tests look at.</summary>
public static class Frames
{
    public static JsonElement Result(JsonElement frame)
    {
        Assert.True(frame[0].GetInt32() == 3, $"expected CALLRESULT, got {frame}");
        return frame[2];
    }

    public static void AssertError(JsonElement frame, string code, string? messageId = null)
    {
        Assert.True(frame[0].GetInt32() == 4, $"expected CALLERROR, got {frame}");
        Assert.Equal(code, frame[2].GetString());
        if (messageId is not null) Assert.Equal(messageId, frame[1].GetString());
    }

    public static string Timestamp(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'");
}
