using System.Buffers;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using EvCharge.ChargerBridge.Mqtt;
using EvCharge.ChargerBridge.Ocpp;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace EvCharge.LoadTests.Driver;

/// <summary>The answer to one of our CALLs: a CALLRESULT payload, or a CALLERROR code.</summary>
public readonly record struct OcppAnswer(bool IsError, string? ErrorCode, byte[] Frame)
{
    /// <summary>Parses the CALLRESULT payload (element 2); only flows that read the answer pay for the parse.</summary>
    public JsonElement Payload()
    {
        using var doc = JsonDocument.Parse(Frame);
        return doc.RootElement[2].Clone();
    }
}

public sealed class OcppCallException(string kind, string message) : Exception(message)
{
    public string Kind { get; } = kind;
}

/// <summary>How a simulated charger reaches the server (--transport).</summary>
public enum ChargerTransport
{
    /// <summary>OCPP-J frames on the charger's MQTT topic pair.</summary>
    Mqtt,
    /// <summary>OCPP-J over WebSocket: ws://host:port/ocpp/{id}, subprotocol ocpp1.6, HTTP Basic (security profile 1).</summary>
    Ws,
}

/// <summary>
/// One simulated charger: one MQTTnet client on its own topic pair, or one WebSocket, and one outstanding CALL at a
/// time (OCPP-J rule), answers matched by message id in the receive callback. No thread or timer of its own:
/// heartbeats come from <see cref="ChargerFleet"/>'s shared loop and waits use the runtime's shared timer queue.
/// </summary>
public sealed class SimCharger : IAsyncDisposable
{
    private readonly SemaphoreSlim _callGate = new(1, 1);
    private readonly SemaphoreSlim _sendGate = new(1, 1);
    private IMqttClient? _client;
    private ClientWebSocket? _socket;
    /// <summary>The connection this charger closed itself: its end is not a drop, even once a reconnect has begun.</summary>
    private ClientWebSocket? _closedByUs;
    private string? _pendingId;
    private TaskCompletionSource<OcppAnswer>? _pending;
    private int _sequence;
    private volatile bool _closing;

    public SimCharger(string id, string password, int index, ChargerTransport transport = ChargerTransport.Mqtt)
    {
        Id = id;
        Password = password;
        Index = index;
        Transport = transport;
        UpTopic = ChargerTopics.Up(id);
        DownTopic = ChargerTopics.Down(id);
    }

    public string Id { get; }
    public string Password { get; }
    public int Index { get; }
    public string UpTopic { get; }
    public string DownTopic { get; }
    public ChargerTransport Transport { get; }
    public bool IsConnected => Transport == ChargerTransport.Ws ? _socket?.State == WebSocketState.Open : _client?.IsConnected == true;
    public bool IsBusy => _callGate.CurrentCount == 0;

    /// <summary>Transaction messages a charger keeps while offline and sends after reconnecting (OCPP 1.6 §3.7).</summary>
    public Queue<(string Action, Action<Utf8JsonWriter> Payload, string Session)> Offline { get; } = new();

    /// <summary>The live transaction, if any (boot storm bookkeeping).</summary>
    public (string Reference, int TransactionId, long MeterStartWh)? Live { get; set; }

    /// <summary>Raised when the connection drops without us closing it.</summary>
    public Action<SimCharger>? Dropped { get; set; }

    /// <summary>Server-initiated CALLs (RemoteStopTransaction, ...), counted by the fleet.</summary>
    public Action<SimCharger, string>? ServerCall { get; set; }

    public async Task ConnectAsync(string host, int port, TimeSpan timeout, CancellationToken ct)
    {
        _closing = false;
        if (Transport == ChargerTransport.Ws)
        {
            await ConnectWebSocketAsync(host, port, timeout, ct);
            return;
        }
        if (_client is null)
        {
            _client = new MqttClientFactory().CreateMqttClient();
            _client.ApplicationMessageReceivedAsync += e => { OnMessage(e.ApplicationMessage.Payload); return Task.CompletedTask; };
            _client.DisconnectedAsync += _ =>
            {
                FailPending("disconnected", "connection closed with a call in flight");
                if (!_closing) Dropped?.Invoke(this);
                return Task.CompletedTask;
            };
        }
        var options = new MqttClientOptionsBuilder()
            .WithTcpServer(host, port)
            .WithClientId(Id)
            .WithCredentials(Id, Password)
            .WithProtocolVersion(MqttProtocolVersion.V500)
            .WithCleanStart(true)
            // OCPP Heartbeat is the liveness signal; MQTT PINGREQs would double the idle traffic and add a timer per client.
            .WithKeepAlivePeriod(TimeSpan.Zero)
            .WithTimeout(timeout)
            .Build();
        var result = await _client.ConnectAsync(options, ct);
        if (result.ResultCode != MqttClientConnectResultCode.Success)
            throw new OcppCallException("connect-refused:" + result.ResultCode, $"CONNECT refused: {result.ResultCode}");
        var sub = await _client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
            .WithTopicFilter(DownTopic, MqttQualityOfServiceLevel.AtLeastOnce).Build(), ct);
        if (sub.Items.Count != 1 || sub.Items.First().ResultCode > MqttClientSubscribeResultCode.GrantedQoS2)
            throw new OcppCallException("subscribe-refused", "SUBSCRIBE to own down topic refused");
    }

    private async Task ConnectWebSocketAsync(string host, int port, TimeSpan timeout, CancellationToken ct)
    {
        _socket?.Dispose();
        var socket = new ClientWebSocket();
        socket.Options.AddSubProtocol("ocpp1.6");
        socket.Options.SetRequestHeader("Authorization", "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"{Id}:{Password}")));
        // OCPP Heartbeat is the liveness signal, as over MQTT; the server's own pings are answered while a receive is pending.
        socket.Options.KeepAliveInterval = TimeSpan.Zero;
        socket.Options.CollectHttpResponseDetails = true;
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(timeout);
        try
        {
            await socket.ConnectAsync(new Uri($"ws://{host}:{port}/ocpp/{Id}"), cts.Token);
        }
        catch (WebSocketException ex)
        {
            var status = socket.HttpStatusCode;
            socket.Dispose();
            throw new OcppCallException(status == 0 ? "ws:" + ex.WebSocketErrorCode : $"connect-refused:{(int)status}", ex.Message);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            socket.Dispose();
            throw new OcppCallException("ws:connect-timeout", $"WebSocket connect unanswered after {timeout.TotalSeconds:0} s");
        }
        _socket = socket;
        _ = ReceiveLoopAsync(socket);
    }

    private async Task ReceiveLoopAsync(ClientWebSocket socket)
    {
        try
        {
            while (socket.State == WebSocketState.Open)
            {
                // Zero-byte read first: 19,000 idle chargers hold no receive buffers in the driver either.
                var head = await socket.ReceiveAsync(Memory<byte>.Empty, CancellationToken.None);
                if (head.MessageType == WebSocketMessageType.Close) break;
                var buffer = ArrayPool<byte>.Shared.Rent(8192);
                try
                {
                    var count = 0;
                    var end = head.EndOfMessage;
                    while (!end)
                    {
                        if (count == buffer.Length) throw new InvalidOperationException("message larger than 8 KiB");
                        var r = await socket.ReceiveAsync(buffer.AsMemory(count), CancellationToken.None);
                        count += r.Count;
                        end = r.EndOfMessage;
                    }
                    OnMessage(new ReadOnlySequence<byte>(buffer, 0, count));
                }
                finally { ArrayPool<byte>.Shared.Return(buffer); }
            }
        }
        catch (Exception) { /* dropped */ }
        if (!ReferenceEquals(socket, _socket)) return; // an earlier connection, already replaced
        FailPending("disconnected", "connection closed with a call in flight");
        if (!_closing && !ReferenceEquals(socket, _closedByUs)) Dropped?.Invoke(this);
    }

    private async Task SendAsync(byte[] frame, CancellationToken ct)
    {
        if (Transport == ChargerTransport.Ws)
        {
            var socket = _socket;
            if (socket is not { State: WebSocketState.Open }) throw new OcppCallException("not-connected", $"{Id} is not connected");
            await _sendGate.WaitAsync(ct);
            try { await socket.SendAsync(frame, WebSocketMessageType.Text, endOfMessage: true, ct); }
            catch (WebSocketException ex) { throw new OcppCallException("ws:" + ex.WebSocketErrorCode, ex.Message); }
            finally { _sendGate.Release(); }
            return;
        }
        var client = _client;
        if (client is not { IsConnected: true }) throw new OcppCallException("not-connected", $"{Id} is not connected");
        var published = await client.PublishAsync(new MqttApplicationMessageBuilder()
            .WithTopic(UpTopic).WithPayload(frame).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build(), ct);
        if (!published.IsSuccess) throw new OcppCallException("publish-refused:" + published.ReasonCode, $"PUBLISH refused: {published.ReasonCode}");
    }

    public async Task DisconnectAsync()
    {
        _closing = true;
        if (_socket is { } socket)
        {
            // The server's answer to our close can end the read loop after a reconnect has already cleared _closing.
            _closedByUs = socket;
            try
            {
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                if (socket.State == WebSocketState.Open) await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", cts.Token);
            }
            catch (Exception) { socket.Abort(); }
            return;
        }
        try
        {
            if (_client is { IsConnected: true } c) await c.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().Build());
        }
        catch (Exception) { /* already gone */ }
    }

    /// <summary>Heartbeat unless a call is already in flight (a real charger resets its heartbeat timer on any traffic).</summary>
    public bool TryBeginIdleCall() => IsConnected && _callGate.Wait(0);

    public Task<OcppAnswer> CallAsync(string action, Action<Utf8JsonWriter> payload, TimeSpan timeout, CancellationToken ct) =>
        CallAsync(action, payload, timeout, ct, gateHeld: false);

    /// <summary>Sends a CALL and awaits its CALLRESULT/CALLERROR. Throws <see cref="OcppCallException"/> on time-out or drop.</summary>
    public async Task<OcppAnswer> CallAsync(string action, Action<Utf8JsonWriter> payload, TimeSpan timeout, CancellationToken ct, bool gateHeld)
    {
        if (!gateHeld) await _callGate.WaitAsync(ct);
        try
        {
            if (!IsConnected) throw new OcppCallException("not-connected", $"{Id} is not connected");
            var id = Id.Length <= 24 ? $"{Id}.{Interlocked.Increment(ref _sequence)}" : Interlocked.Increment(ref _sequence).ToString();
            var waiter = new TaskCompletionSource<OcppAnswer>(TaskCreationOptions.RunContinuationsAsynchronously);
            Volatile.Write(ref _pending, waiter);
            Volatile.Write(ref _pendingId, id);
            var frame = OcppFrameWriter.Call(id, action, payload);
            await SendAsync(frame, ct);
            try
            {
                return await waiter.Task.WaitAsync(timeout, ct);
            }
            catch (TimeoutException)
            {
                throw new OcppCallException("timeout:" + action, $"{action} unanswered after {timeout.TotalSeconds:0} s");
            }
        }
        catch (MQTTnet.Exceptions.MqttCommunicationException) when (ct.IsCancellationRequested)
        {
            // MQTTnet reports a PUBACK wait cut short by the caller's token as a communication time-out; it is the
            // caller stopping (heartbeats at the end of a hold), not a failure of the system under test.
            throw new OperationCanceledException(ct);
        }
        catch (MQTTnet.Exceptions.MqttCommunicationException ex)
        {
            throw new OcppCallException("mqtt:" + ex.GetType().Name, ex.Message);
        }
        finally
        {
            Volatile.Write(ref _pendingId, null);
            Volatile.Write(ref _pending, null);
            _callGate.Release();
        }
    }

    private void OnMessage(ReadOnlySequence<byte> payload)
    {
        // Read only [type, id, ...] with a forward reader; the payload is parsed later and only if the flow needs it.
        int type;
        string? id;
        try
        {
            var reader = new Utf8JsonReader(payload);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartArray || !reader.Read() || reader.TokenType != JsonTokenType.Number) return;
            type = reader.GetInt32();
            if (!reader.Read() || reader.TokenType != JsonTokenType.String) return;
            id = reader.GetString();
        }
        catch (JsonException) { return; }

        if (type == 2)
        {
            AnswerServerCall(id!, payload.ToArray());
            return;
        }
        var pending = Volatile.Read(ref _pending);
        if (pending is null || !string.Equals(Volatile.Read(ref _pendingId), id, StringComparison.Ordinal)) return;
        var bytes = payload.ToArray();
        string? code = null;
        if (type == 4)
        {
            var r = new Utf8JsonReader(bytes);
            r.Read(); r.Read(); r.Read(); r.Read();
            code = r.TokenType == JsonTokenType.String ? r.GetString() : "?";
        }
        pending.TrySetResult(new OcppAnswer(type == 4, code, bytes));
    }

    private void AnswerServerCall(string id, byte[] frame)
    {
        string action;
        try
        {
            using var doc = JsonDocument.Parse(frame);
            action = doc.RootElement[2].GetString() ?? "";
        }
        catch (Exception) { return; }
        ServerCall?.Invoke(this, action);
        var answer = OcppFrameWriter.CallResult(id, w =>
        {
            if (action is "RemoteStopTransaction" or "RemoteStartTransaction" or "UnlockConnector" or "Reset" or "ChangeAvailability")
                w.WriteString("status", "Accepted");
        });
        _ = SendAsync(answer, CancellationToken.None).ContinueWith(t => _ = t.Exception, TaskContinuationOptions.OnlyOnFaulted);
    }

    private void FailPending(string kind, string message) =>
        Volatile.Read(ref _pending)?.TrySetException(new OcppCallException(kind, message));

    public async ValueTask DisposeAsync()
    {
        await DisconnectAsync();
        _client?.Dispose();
        _client = null;
        _socket?.Dispose();
        _socket = null;
    }
}
