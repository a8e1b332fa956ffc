using System.Buffers;
using System.Net.WebSockets;
using System.Threading.Channels;
using EvCharge.ChargerBridge.Ocpp;
using EvCharge.Charging;
using EvCharge.Ocpp;
using Microsoft.Extensions.Logging;

namespace EvCharge.ChargerBridge.WebSockets;

/// <summary>
/// One charger's WebSocket: reads OCPP-J messages (bounded in size, never buffered past the limit), hands them one at
/// a time and in order to <see cref="OcppDispatcher"/>, the same frame handler MQTT uses, and sends the answers and
/// server CALLs through a bounded queue. It is also the charger grain's <see cref="IChargerLink"/> while connected,
/// so RemoteStopTransaction and the calls to come go down this socket. Three loops: receive, handle, send.
/// </summary>
internal sealed class OcppWebSocketConnection : IChargerLink
{
    private readonly WebSocket _socket;
    private readonly WebSocketHub _hub;
    private readonly Channel<byte[]> _inbound;
    private readonly Channel<byte[]> _outbound;
    private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private IChargerLink? _reference;
    private DateTimeOffset _attachedAt = DateTimeOffset.MinValue;
    private long _lastMessageTicks;
    private int _closeRequested;
    private WebSocketCloseStatus _closeStatus = WebSocketCloseStatus.NormalClosure;
    private string _closeReason = "";

    public OcppWebSocketConnection(string chargerId, string remoteAddress, OcppSecurityProfile profile, WebSocket socket, WebSocketHub hub)
    {
        ChargerId = chargerId;
        RemoteAddress = remoteAddress;
        Profile = profile;
        _socket = socket;
        _hub = hub;
        _inbound = Channel.CreateBounded<byte[]>(new BoundedChannelOptions(Math.Max(1, hub.Options.ReceiveQueueFrames))
        {
            SingleReader = true, SingleWriter = true, FullMode = BoundedChannelFullMode.Wait,
        });
        _outbound = Channel.CreateBounded<byte[]>(new BoundedChannelOptions(Math.Max(1, hub.Options.SendQueueFrames))
        {
            SingleReader = true, FullMode = BoundedChannelFullMode.Wait,
        });
        _lastMessageTicks = hub.Time.GetUtcNow().UtcTicks;
    }

    public string ChargerId { get; }
    public string RemoteAddress { get; }
    public OcppSecurityProfile Profile { get; }
    public DateTimeOffset LastMessageAt => new(Interlocked.Read(ref _lastMessageTicks), TimeSpan.Zero);
    public bool IsClosing => Volatile.Read(ref _closeRequested) != 0;

    /// <summary>Completes when the connection is over and its last frame was handled.</summary>
    public Task Completion => _done.Task;

    /// <summary>Runs until the charger or the server closes the connection.</summary>
    public async Task RunAsync()
    {
        var predecessor = _hub.Connections.Add(this);
        predecessor?.RequestClose(WebSocketCloseStatus.NormalClosure, "replaced by a newer connection of this charger");
        _reference = _hub.Grains.CreateObjectReference<IChargerLink>(this);
        var sending = Task.Run(SendLoopAsync);
        var handling = Task.Run(() => HandleLoopAsync(predecessor));
        try
        {
            await ReceiveLoopAsync();
        }
        finally
        {
            _inbound.Writer.TryComplete();
            await handling;
            _outbound.Writer.TryComplete();
            await sending;
            _hub.Connections.Remove(this);
            try
            {
                // Told before the reference goes, so the grain does not later call a link that no longer exists.
                if (_attachedAt != DateTimeOffset.MinValue) _hub.Grains.GetGrain<IChargerGrain>(ChargerId).DetachConnection(_reference).Ignore();
                _hub.Grains.DeleteObjectReference<IChargerLink>(_reference);
            }
            catch (Exception) { /* host shutting down */ }
            _done.TrySetResult();
            _hub.Logger.LogInformation("Charger {ChargerId} WebSocket from {Address} closed: {Status} {Reason}",
                ChargerId, RemoteAddress, _socket.CloseStatus ?? _closeStatus, _socket.CloseStatusDescription ?? _closeReason);
        }
    }

    /// <summary>
    /// Closes gracefully: answers already queued are sent, then a Close frame; a charger that does not answer the
    /// close within the time-out is dropped. Idempotent; the first reason wins.
    /// </summary>
    public void RequestClose(WebSocketCloseStatus status, string reason)
    {
        if (Interlocked.Exchange(ref _closeRequested, 1) != 0) return;
        _closeStatus = status;
        _closeReason = reason;
        _outbound.Writer.TryComplete();
        _ = AbortAfterAsync(TimeSpan.FromSeconds(Math.Max(1, _hub.Options.CloseTimeoutSeconds)));
    }

    private async Task AbortAfterAsync(TimeSpan delay)
    {
        try
        {
            await Task.WhenAny(_done.Task, Task.Delay(delay, _hub.Time));
        }
        finally
        {
            if (!_done.Task.IsCompleted) _socket.Abort();
        }
    }

    /// <summary>Drops the connection at once (a charger that does not read, shutdown after the grace period).</summary>
    public void Abort(string reason)
    {
        if (Interlocked.Exchange(ref _closeRequested, 1) == 0) { _closeStatus = WebSocketCloseStatus.PolicyViolation; _closeReason = reason; }
        _outbound.Writer.TryComplete();
        _socket.Abort();
    }

    private async Task ReceiveLoopAsync()
    {
        var max = Math.Max(256, _hub.Options.MaxMessageBytes);
        try
        {
            while (true)
            {
                // A zero-byte read waits for the next message without holding a buffer: idle chargers cost no receive memory.
                var head = await _socket.ReceiveAsync(Memory<byte>.Empty, CancellationToken.None);
                if (head.MessageType == WebSocketMessageType.Close) return;
                var frame = head.EndOfMessage ? [] : await ReadMessageAsync(max);
                if (frame is null)
                {
                    _hub.Logger.LogWarning("Charger {ChargerId} sent a message over {Max} bytes; closing", ChargerId, max);
                    RequestClose(WebSocketCloseStatus.MessageTooBig, $"message exceeds {max} bytes");
                    await DiscardUntilClosedAsync();
                    return;
                }
                Interlocked.Exchange(ref _lastMessageTicks, _hub.Time.GetUtcNow().UtcTicks);
                // Waits while the charger is ahead of the handler by more than the queue: reading pauses, TCP pushes back.
                await _inbound.Writer.WriteAsync(frame);
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or IOException or ChannelClosedException)
        {
            // The peer vanished, the socket was aborted (ping time-out, slow reader, shutdown) or broke the protocol.
            if (!IsClosing) _hub.Logger.LogInformation("Charger {ChargerId} WebSocket dropped: {Error}", ChargerId, e.Message);
        }
    }

    /// <summary>
    /// After refusing a message, reads and throws away what the charger still sends (a small scratch buffer, never the
    /// message) until its answer to our Close, so it sees the 1009 instead of a reset; the close time-out bounds it.
    /// </summary>
    private async Task DiscardUntilClosedAsync()
    {
        var scratch = ArrayPool<byte>.Shared.Rent(1024);
        try
        {
            while ((await _socket.ReceiveAsync(scratch.AsMemory(), CancellationToken.None)).MessageType != WebSocketMessageType.Close) { }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(scratch);
        }
    }

    /// <summary>The rest of one message, into a buffer that grows up to the limit; null when the message is larger.</summary>
    private async Task<byte[]?> ReadMessageAsync(int max)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Min(4096, max));
        var count = 0;
        try
        {
            while (true)
            {
                if (count == buffer.Length)
                {
                    if (count >= max) return null;
                    var bigger = ArrayPool<byte>.Shared.Rent(Math.Min(max, buffer.Length * 2));
                    buffer.AsSpan(0, count).CopyTo(bigger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = bigger;
                }
                var room = Math.Min(buffer.Length, max) - count;
                var read = await _socket.ReceiveAsync(buffer.AsMemory(count, room), CancellationToken.None);
                if (read.MessageType == WebSocketMessageType.Close) throw new OperationCanceledException("closed in the middle of a message");
                count += read.Count;
                if (read.EndOfMessage) return buffer.AsSpan(0, count).ToArray();
                if (count >= max) return null;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private async Task HandleLoopAsync(OcppWebSocketConnection? predecessor)
    {
        // The charger's frames on the old connection finish first, so its frames are handled in the order it sent them.
        if (predecessor is not null)
            await Task.WhenAny(predecessor.Completion, Task.Delay(TimeSpan.FromSeconds(30), _hub.Time));
        // Attached at once, not at the first frame: a charger that reconnects mid-charge may be quiet for minutes, and a
        // RemoteStopTransaction in that time must reach it here.
        await EnsureAttachedAsync();
        await foreach (var frame in _inbound.Reader.ReadAllAsync())
        {
            // A replaced connection leaves what it still holds to its successor: the charger resends unanswered CALLs there.
            if (IsClosing && _closeReason.StartsWith("replaced", StringComparison.Ordinal)) continue;
            try
            {
                await EnsureAttachedAsync();
                var answer = await _hub.Dispatcher.DispatchAsync(ChargerId, frame);
                _hub.FrameHandled();
                if (answer is not null) Enqueue(answer);
            }
            catch (Exception e)
            {
                _hub.Logger.LogError(e, "Frame from charger {ChargerId} could not be answered", ChargerId);
            }
        }
    }

    private async Task EnsureAttachedAsync()
    {
        var now = _hub.Time.GetUtcNow();
        if (now - _attachedAt < TimeSpan.FromSeconds(_hub.LinkRefreshSeconds)) return;
        // Recorded before the call so a failing grain is retried at the next refresh, not on every frame.
        _attachedAt = now;
        try
        {
            await _hub.Grains.GetGrain<IChargerGrain>(ChargerId).AttachConnection(_reference!);
        }
        catch (Exception e)
        {
            _hub.Logger.LogWarning(e, "Could not attach the WebSocket of charger {ChargerId} to its grain", ChargerId);
        }
    }

    /// <summary>Queues a frame for the charger; a full queue means the charger stopped reading, and it is dropped.</summary>
    private bool Enqueue(byte[] frame)
    {
        if (_outbound.Writer.TryWrite(frame)) return true;
        if (!IsClosing)
        {
            _hub.Logger.LogWarning("Charger {ChargerId} is not reading: {Frames} frames queued; dropping the connection", ChargerId, _hub.Options.SendQueueFrames);
            Abort("send queue full");
        }
        return false;
    }

    private async Task SendLoopAsync()
    {
        try
        {
            await foreach (var frame in _outbound.Reader.ReadAllAsync())
                await _socket.SendAsync(frame, WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None);
            if (_socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(Math.Max(1, _hub.Options.CloseTimeoutSeconds)));
                await _socket.CloseOutputAsync(_closeStatus, _closeReason, timeout.Token);
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or IOException or ObjectDisposedException)
        {
            // The socket is gone; the receive loop ends on its own.
        }
    }

    Task IChargerLink.Send(string chargerId, ChargerCommand command)
    {
        if (!string.Equals(chargerId, ChargerId, StringComparison.Ordinal))
            throw new ArgumentException($"this link is charger {ChargerId}'s connection", nameof(chargerId));
        if (IsClosing) throw new InvalidOperationException($"the WebSocket of charger {ChargerId} is closing");
        var messageId = OcppPendingCalls.NewMessageId();
        var frame = OcppFrameWriter.Call(messageId, command.Action, command.PayloadJson);
        _hub.PendingCalls.Add(messageId, ChargerId, command.Action, command.Reference);
        if (!Enqueue(frame)) throw new InvalidOperationException($"the WebSocket of charger {ChargerId} is closed");
        _hub.Logger.LogInformation("Sent {Action} {MessageId} to charger {ChargerId} over WebSocket", command.Action, messageId, ChargerId);
        return Task.CompletedTask;
    }

    Task IChargerLink.Released(string chargerId)
    {
        if (string.Equals(chargerId, ChargerId, StringComparison.Ordinal))
            RequestClose(WebSocketCloseStatus.NormalClosure, "replaced by a newer connection of this charger");
        return Task.CompletedTask;
    }
}
