using System.Buffers;
using System.Collections.Concurrent;
using System.Threading.Channels;
using EvCharge.ChargerBridge.Extensions;
using EvCharge.ChargerBridge.Ocpp;
using EvCharge.Charging;
using EvCharge.Ocpp;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace EvCharge.ChargerBridge.Mqtt;

/// <summary>
/// Feeds charger frames from MQTT into <see cref="OcppDispatcher"/> and publishes the answers. An ordinary MQTT
/// client of the embedded or an external broker; with an external MQTT 5 broker several instances split the
/// chargers through a shared subscription. Frames run concurrently on a fixed number of lanes, each charger
/// always on the same lane, so its frames are handled in the order it sent them.
/// Also the <see cref="IChargerLink"/> charger grains use to push RemoteStopTransaction down to a charger.
/// </summary>
public sealed class MqttChargerBridge : BackgroundService, IChargerLink, IChargerUplink
{
    private readonly ChargerBridgeOptions _options;
    private readonly OcppDispatcher _dispatcher;
    private readonly OcppPendingCalls _pendingCalls;
    private readonly IGrainFactory _grainFactory;
    private readonly ILogger<MqttChargerBridge> _logger;
    private readonly TimeProvider _time;
    private readonly IMqttClient _client;
    private readonly Channel<Inbound>[] _lanes;
    private readonly ConcurrentDictionary<string, DateTimeOffset> _linkAttachedAt = new(StringComparer.Ordinal);
    private readonly string _clientId;
    private readonly Lock _linkGate = new();
    private IChargerLink? _linkReference;
    private TaskCompletionSource _subscribed = NewSignal();
    private TaskCompletionSource _disconnected = NewSignal();
    private long _framesHandled;

    private readonly record struct Inbound(string ChargerId, byte[] Frame);

    public MqttChargerBridge(IOptions<ChargerBridgeOptions> options, OcppDispatcher dispatcher, OcppPendingCalls pendingCalls,
        IGrainFactory grainFactory, ILogger<MqttChargerBridge> logger, TimeProvider? time = null)
    {
        _options = options.Value;
        _dispatcher = dispatcher;
        _pendingCalls = pendingCalls;
        _grainFactory = grainFactory;
        _logger = logger;
        _time = time ?? TimeProvider.System;
        _clientId = string.IsNullOrWhiteSpace(_options.ClientId)
            ? $"evc-bridge-{Guid.NewGuid():N}"
            : _options.ClientId;
        _client = new MqttClientFactory().CreateMqttClient();
        _client.ApplicationMessageReceivedAsync += OnMessageAsync;
        _client.DisconnectedAsync += e =>
        {
            _disconnected.TrySetResult();
            return Task.CompletedTask;
        };
        _lanes = new Channel<Inbound>[Math.Max(1, _options.MaxConcurrency)];
        for (var i = 0; i < _lanes.Length; i++)
            _lanes[i] = Channel.CreateBounded<Inbound>(new BoundedChannelOptions(Math.Max(1, _options.LaneCapacity))
            {
                SingleReader = true,
                FullMode = BoundedChannelFullMode.Wait,
            });
    }

    public bool IsConnected => _client.IsConnected;

    /// <summary>Frames handled since start (answered or correlated), for diagnostics and tests.</summary>
    public long FramesHandled => Interlocked.Read(ref _framesHandled);

    /// <summary>The subscription currently in use, once subscribed.</summary>
    public string? Subscription { get; private set; }

    /// <summary>Completes once the bridge is connected and subscribed (again, after a reconnect).</summary>
    public Task WaitUntilSubscribedAsync(CancellationToken cancellationToken = default) =>
        _subscribed.Task.WaitAsync(cancellationToken);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var lanes = _lanes.Select(lane => Task.Run(() => RunLaneAsync(lane.Reader))).ToArray();
        var backoff = TimeSpan.FromMilliseconds(Math.Max(50, _options.ReconnectMinMilliseconds));
        var maxBackoff = TimeSpan.FromMilliseconds(Math.Max(_options.ReconnectMinMilliseconds, _options.ReconnectMaxMilliseconds));

        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                _disconnected = NewSignal();
                await ConnectAndSubscribeAsync(stoppingToken);
                backoff = TimeSpan.FromMilliseconds(Math.Max(50, _options.ReconnectMinMilliseconds));
                await _disconnected.Task.WaitAsync(stoppingToken);
                _logger.LogWarning("Bridge {ClientId} lost its broker connection; reconnecting", _clientId);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e)
            {
                _logger.LogWarning("Bridge {ClientId} cannot reach broker {Host}:{Port}: {Error}", _clientId, BrokerHost, _options.Port, e.Message);
            }

            if (_subscribed.Task.IsCompleted) _subscribed = NewSignal();
            // Whatever link the grains hold may be stale after a reconnect; attach again on the next frame.
            _linkAttachedAt.Clear();
            try
            {
                var jitter = Random.Shared.NextDouble() * 0.3 + 0.85;
                await Task.Delay(backoff * jitter, _time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            backoff = TimeSpan.FromTicks(Math.Min(maxBackoff.Ticks, backoff.Ticks * 2));
        }

        foreach (var lane in _lanes) lane.Writer.TryComplete();
        await Task.WhenAll(lanes).WaitAsync(TimeSpan.FromSeconds(5)).ContinueWith(_ => { });
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        try
        {
            if (_client.IsConnected)
                await _client.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().Build(), cancellationToken);
        }
        catch (Exception e)
        {
            _logger.LogDebug(e, "Disconnect on shutdown failed");
        }
        lock (_linkGate)
        {
            if (_linkReference is not null)
            {
                try { _grainFactory.DeleteObjectReference<IChargerLink>(_linkReference); } catch { /* host shutting down */ }
                _linkReference = null;
            }
        }
    }

    public override void Dispose()
    {
        base.Dispose();
        _client.Dispose();
    }

    private string BrokerHost => _options.Broker == BrokerMode.Embedded ? "127.0.0.1" : _options.Host;

    private async Task ConnectAndSubscribeAsync(CancellationToken cancellationToken)
    {
        var builder = new MqttClientOptionsBuilder()
            .WithTcpServer(BrokerHost, _options.Port)
            .WithClientId(_clientId)
            .WithCredentials(_options.BridgeUsername, _options.BridgePassword ?? "")
            .WithProtocolVersion(MqttProtocolVersion.V500)
            .WithCleanStart(true)
            .WithKeepAlivePeriod(TimeSpan.FromSeconds(15))
            .WithTimeout(TimeSpan.FromSeconds(10));
        if (_options.UseTls && _options.Broker == BrokerMode.External)
            builder = builder.WithTlsOptions(o => o.UseTls(true).WithTargetHost(_options.Host));

        var connected = await _client.ConnectAsync(builder.Build(), cancellationToken);
        if (connected.ResultCode != MqttClientConnectResultCode.Success)
            throw new InvalidOperationException($"broker refused the bridge: {connected.ResultCode} {connected.ReasonString}");

        if (_downlink is not null)
        {
            // The embedded broker hands uplinks straight to this bridge (AcceptUplinkAsync); the client only publishes.
            Subscription = "(in-process uplink from the embedded broker)";
            _logger.LogInformation("Bridge {ClientId} connected to the embedded broker on port {Port}; uplinks in-process", _clientId, _options.Port);
            _subscribed.TrySetResult();
            return;
        }
        // MQTTnet's own broker has no shared subscriptions; there is only one bridge per embedded broker anyway.
        var topic = _options.Broker == BrokerMode.External && !string.IsNullOrWhiteSpace(_options.SharedGroup)
            ? ChargerTopics.SharedUp(_options.SharedGroup)
            : ChargerTopics.AllUp;
        var subscribed = await _client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
            .WithTopicFilter(topic, MqttQualityOfServiceLevel.AtLeastOnce)
            .Build(), cancellationToken);
        foreach (var item in subscribed.Items)
        {
            if (item.ResultCode > MqttClientSubscribeResultCode.GrantedQoS2)
                throw new InvalidOperationException($"broker refused subscription {topic}: {item.ResultCode}");
        }
        Subscription = topic;
        _logger.LogInformation("Bridge {ClientId} connected to {Host}:{Port}, subscribed to {Topic}", _clientId, BrokerHost, _options.Port, topic);
        _subscribed.TrySetResult();
    }

    /// <summary>Set when the embedded broker in this process feeds this bridge directly and takes its answers directly.</summary>
    private IChargerDownlink? _downlink;

    /// <summary>Called by the host before start; see <see cref="ChargerBridgeOptions.InProcessBridge"/>.</summary>
    internal void UseInProcessBroker(IChargerDownlink downlink) => _downlink = downlink;

    private async Task OnMessageAsync(MqttApplicationMessageReceivedEventArgs e)
    {
        var message = e.ApplicationMessage;
        if (!ChargerTopics.TryParseUp(message.Topic, out var chargerId))
        {
            _logger.LogDebug("Ignoring message on {Topic}", message.Topic);
            return;
        }
        // The payload buffer belongs to the client and is reused once this handler returns.
        await EnqueueAsync(chargerId, message.Payload.ToArray());
    }

    ValueTask IChargerUplink.AcceptUplinkAsync(string chargerId, byte[] frame) => EnqueueAsync(chargerId, frame);

    private ValueTask EnqueueAsync(string chargerId, byte[] frame)
    {
        var lane = _lanes[(int)((uint)StringComparer.Ordinal.GetHashCode(chargerId) % (uint)_lanes.Length)];
        // Waiting here when the lane is full stops reading from the broker: back-pressure instead of unbounded memory.
        return lane.Writer.WriteAsync(new Inbound(chargerId, frame));
    }

    private async Task RunLaneAsync(ChannelReader<Inbound> reader)
    {
        await foreach (var inbound in reader.ReadAllAsync())
        {
            try
            {
                await EnsureLinkAsync(inbound.ChargerId);
                var response = await _dispatcher.DispatchAsync(inbound.ChargerId, inbound.Frame);
                Interlocked.Increment(ref _framesHandled);
                if (response is not null)
                    await PublishAsync(inbound.ChargerId, response);
            }
            catch (Exception e)
            {
                _logger.LogError(e, "Frame from charger {ChargerId} could not be answered", inbound.ChargerId);
            }
        }
    }

    private async Task EnsureLinkAsync(string chargerId)
    {
        var now = _time.GetUtcNow();
        if (_linkAttachedAt.TryGetValue(chargerId, out var at) && now - at < TimeSpan.FromSeconds(_options.LinkRefreshSeconds))
            return;
        // Recorded before the call so a failing grain is retried at the next refresh, not on every frame.
        _linkAttachedAt[chargerId] = now;
        try
        {
            await _grainFactory.GetGrain<IChargerGrain>(chargerId).AttachLink(LinkReference());
        }
        catch (Exception e)
        {
            _logger.LogWarning(e, "Could not attach the bridge link to charger {ChargerId}", chargerId);
        }
    }

    private IChargerLink LinkReference()
    {
        lock (_linkGate)
            return _linkReference ??= _grainFactory.CreateObjectReference<IChargerLink>(this);
    }

    private async Task PublishAsync(string chargerId, byte[] frame)
    {
        if (_downlink is { } downlink)
        {
            if (await downlink.DeliverDownlinkAsync(chargerId, frame) == 0)
                _logger.LogDebug("Charger {ChargerId} has no subscribed session; frame not delivered", chargerId);
            return;
        }
        var message = ChargerTopics.DownMessage(chargerId, frame, MqttQualityOfServiceLevel.AtLeastOnce);
        var result = await _client.PublishAsync(message, CancellationToken.None);
        if (!result.IsSuccess)
            _logger.LogWarning("Publish to {ChargerId} failed: {Reason}", chargerId, result.ReasonCode);
    }

    /// <summary>Server-initiated CALL (RemoteStopTransaction) from a charger grain to its charger.</summary>
    async Task IChargerLink.Send(string chargerId, ChargerCommand command)
    {
        if (!ChargerTopics.IsValidChargerId(chargerId))
            throw new ArgumentException("invalid charger id", nameof(chargerId));
        if (!_client.IsConnected)
            throw new InvalidOperationException("The charger bridge is not connected to its broker");
        var messageId = OcppPendingCalls.NewMessageId();
        var frame = OcppFrameWriter.Call(messageId, command.Action, command.PayloadJson);
        _pendingCalls.Add(messageId, chargerId, command.Action, command.Reference);
        await PublishAsync(chargerId, frame);
        _logger.LogInformation("Sent {Action} {MessageId} to charger {ChargerId}", command.Action, messageId, chargerId);
    }

    /// <summary>
    /// The charger went to a WebSocket connection (or came back from one elsewhere): attach again on its next MQTT
    /// frame instead of trusting the refresh period, so server CALLs follow the charger back to MQTT.
    /// </summary>
    Task IChargerLink.Released(string chargerId)
    {
        _linkAttachedAt.TryRemove(chargerId, out _);
        return Task.CompletedTask;
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
