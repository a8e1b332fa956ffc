using System.Text.Json;
using System.Threading.Channels;

namespace EvCharge.LoadTests.Driver;

/// <summary>
/// N simulated chargers: connected at a ramp rate with bounded in-flight CONNECTs, booted, and held with
/// heartbeats from one shared loop that walks a slice of the fleet per tick (no timer or thread per charger).
/// Idle chargers wait in a channel for the scenario to hand them a charge.
/// </summary>
public sealed class ChargerFleet : IAsyncDisposable
{
    private readonly Target _target;
    private readonly Metrics _metrics;
    private readonly List<SimCharger> _chargers;
    private long _heartbeatsInFlight;
    private Task? _heartbeatLoop;
    private readonly CancellationTokenSource _stop = new();

    public ChargerFleet(Target target, Metrics metrics, string prefix, int count, TimeSpan callTimeout)
    {
        _target = target;
        _metrics = metrics;
        CallTimeout = callTimeout;
        _chargers = new List<SimCharger>(count);
        for (var i = 0; i < count; i++)
        {
            var c = new SimCharger($"{prefix}{i:D5}", $"pw-{prefix}{i:D5}-lt", i, target.Transport);
            c.Dropped = _ => metrics.Error(target.Transport == ChargerTransport.Ws ? "ws:dropped" : "mqtt:dropped");
            c.ServerCall = (_, action) => metrics.Count("server-call." + action);
            _chargers.Add(c);
        }
    }

    public TimeSpan CallTimeout { get; }
    public IReadOnlyList<SimCharger> Chargers => _chargers;
    public Channel<SimCharger> Idle { get; } = Channel.CreateUnbounded<SimCharger>();
    public int Connected => _chargers.Count(c => c.IsConnected);

    /// <summary>Connects every charger at <paramref name="perSecond"/> (0 = all at once), boots it, and marks it idle.</summary>
    public async Task ConnectAllAsync(double perSecond, int maxInFlight, bool boot, int attempts, CancellationToken ct,
        IEnumerable<SimCharger>? subset = null, string step = "connect")
    {
        using var gate = new SemaphoreSlim(maxInFlight);
        var tasks = new List<Task>(_chargers.Count);
        var start = Metrics.Now;
        var i = 0;
        foreach (var c in subset ?? _chargers)
        {
            if (ct.IsCancellationRequested) break;
            if (perSecond > 0)
            {
                var due = TimeSpan.FromSeconds(i / perSecond) - System.Diagnostics.Stopwatch.GetElapsedTime(start);
                if (due > TimeSpan.FromMilliseconds(1)) await Task.Delay(due, ct);
            }
            i++;
            await gate.WaitAsync(ct);
            tasks.Add(ConnectOneGuardedAsync(c, gate, boot, attempts, step, ct));
        }
        await Task.WhenAll(tasks);
    }

    private async Task ConnectOneGuardedAsync(SimCharger c, SemaphoreSlim gate, bool boot, int attempts, string step, CancellationToken ct)
    {
        try
        {
            if (await ConnectOneAsync(c, boot, attempts, step, ct)) Idle.Writer.TryWrite(c);
        }
        finally { gate.Release(); }
    }

    /// <summary>CONNECT + SUBSCRIBE, or the WebSocket handshake (+ BootNotification and StatusNotification Available), retried like a real charger.</summary>
    public async Task<bool> ConnectOneAsync(SimCharger c, bool boot, int attempts, string step, CancellationToken ct)
    {
        for (var attempt = 1; attempt <= attempts && !ct.IsCancellationRequested; attempt++)
        {
            try
            {
                var t0 = Metrics.Now;
                await c.ConnectAsync(_target.MqttHost, _target.ChargerPort, TimeSpan.FromSeconds(30), ct);
                _metrics.Record(step, t0);
                if (boot) await BootAsync(c, ct);
                return true;
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested) { return false; }
            catch (Exception ex)
            {
                var kind = ex is OcppCallException o ? o.Kind : ex.GetType().Name;
                if (attempt == attempts) { _metrics.Error($"{step}:{kind}"); return false; }
                _metrics.Count($"{step}.retry:{kind}");
                await c.DisconnectAsync();
                // Back off with jitter, as chargers do after a failed CONNECT, so a storm spreads itself out.
                await Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.Next(200, 1000) * attempt), ct);
            }
        }
        return false;
    }

    public async Task BootAsync(SimCharger c, CancellationToken ct)
    {
        var t0 = Metrics.Now;
        var answer = await c.CallAsync("BootNotification", OcppPayloads.Boot("LT-1"), CallTimeout, ct);
        _metrics.Record("boot", t0);
        if (answer.IsError) throw new OcppCallException("boot:" + answer.ErrorCode, "BootNotification answered with CALLERROR");
        if (answer.Payload().GetProperty("status").GetString() != "Accepted") throw new OcppCallException("boot:not-accepted", "boot not accepted");
        t0 = Metrics.Now;
        var status = await c.CallAsync("StatusNotification", OcppPayloads.Status(1, c.Live is null ? "Available" : "Charging", DateTimeOffset.UtcNow), CallTimeout, ct);
        _metrics.Record("status", t0);
        if (status.IsError) throw new OcppCallException("status:" + status.ErrorCode, "StatusNotification answered with CALLERROR");
    }

    /// <summary>One loop for the whole fleet: every tick sends heartbeats to 1/slices of the chargers, so each beats once per interval.</summary>
    public void StartHeartbeats(TimeSpan interval, int maxInFlight = 4000)
    {
        var tick = TimeSpan.FromMilliseconds(100);
        var slices = Math.Max(1, (int)(interval / tick));
        _heartbeatLoop = Task.Run(async () =>
        {
            using var timer = new PeriodicTimer(tick);
            var slice = 0;
            try
            {
                while (await timer.WaitForNextTickAsync(_stop.Token))
                {
                    for (var i = slice; i < _chargers.Count; i += slices)
                    {
                        var c = _chargers[i];
                        if (Interlocked.Read(ref _heartbeatsInFlight) >= maxInFlight) { _metrics.Count("heartbeat.skipped-backlog"); continue; }
                        if (!c.TryBeginIdleCall()) continue;
                        Interlocked.Increment(ref _heartbeatsInFlight);
                        _ = HeartbeatAsync(c);
                    }
                    slice = (slice + 1) % slices;
                }
            }
            catch (OperationCanceledException) { }
        });
    }

    private async Task HeartbeatAsync(SimCharger c)
    {
        var t0 = Metrics.Now;
        try
        {
            var answer = await c.CallAsync("Heartbeat", OcppPayloads.Heartbeat, CallTimeout, _stop.Token, gateHeld: true);
            _metrics.Record("heartbeat", t0);
            _metrics.Count("heartbeats");
            if (answer.IsError) _metrics.Error("heartbeat:" + answer.ErrorCode);
        }
        catch (OperationCanceledException) { }
        catch (OcppCallException ex) { _metrics.Error("heartbeat:" + ex.Kind); }
        catch (Exception ex) { _metrics.Error("heartbeat:" + ex.GetType().Name); }
        finally { Interlocked.Decrement(ref _heartbeatsInFlight); }
    }

    public async Task StopHeartbeatsAsync()
    {
        _stop.Cancel();
        if (_heartbeatLoop is not null) await _heartbeatLoop;
    }

    public async Task DisconnectAllAsync(int maxInFlight = 512)
    {
        using var gate = new SemaphoreSlim(maxInFlight);
        await Task.WhenAll(_chargers.Select(async c =>
        {
            await gate.WaitAsync();
            try { await c.DisconnectAsync(); } finally { gate.Release(); }
        }));
    }

    public async ValueTask DisposeAsync()
    {
        await StopHeartbeatsAsync();
        await DisconnectAllAsync();
        foreach (var c in _chargers) await c.DisposeAsync();
    }
}
