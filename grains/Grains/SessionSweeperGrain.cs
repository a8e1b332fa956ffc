using EvCharge.Charging;
using EvCharge.Sessions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EvCharge.Grains;

/// <summary>
/// Ticks the sessions whose due time has come (<see cref="SessionProjection.DueAt"/>: start and stop timeouts, holds
/// nearing expiry, provider steps backing off or left in flight by a dead silo) in its share of the session buckets.
/// Its reminder (one per sweeper, not one per session) brings it back after any restart; each tick is one indexed
/// query, then the due sessions are ticked a few at a time.
/// </summary>
internal sealed class SessionSweeperGrain(
    ISessionStore sessions,
    IOptions<EvChargeOptions> options,
    TimeProvider clock,
    ILogger<SessionSweeperGrain> logger) : Grain, ISessionSweeperGrain, IRemindable
{
    private const string Reminder = "sweep";
    private const int PerSweep = 2_000;
    private const int InParallel = 32;
    private readonly EvChargeOptions _options = options.Value;

    private int Shard => (int)this.GetPrimaryKeyLong();

    async Task ISessionSweeperGrain.Start() =>
        await this.RegisterOrUpdateReminder(Reminder, _options.WatchdogPeriod, _options.WatchdogPeriod);

    Task<int> ISessionSweeperGrain.Sweep() => SweepAsync();

    async Task IRemindable.ReceiveReminder(string reminderName, TickStatus status)
    {
        if (reminderName == Reminder) await SweepAsync();
    }

    private async Task TickAsync(string sessionId)
    {
        try
        {
            await GrainFactory.GetGrain<IChargingSessionGrain>(sessionId).Tick();
        }
        catch (Exception ex)
        {
            // One session's trouble (its provider down, its silo failing over) must not stop the others' timeouts.
            logger.LogWarning(ex, "Sweeper {Shard}: tick of session {Session} failed; it stays due", Shard, sessionId);
        }
    }

    private async Task<int> SweepAsync()
    {
        var due = await sessions.DueAsync(clock.GetUtcNow(), Shard, Math.Max(1, _options.Sweepers), PerSweep);
        // A few ticks at a time, started from this grain's own turn (Orleans keeps the calls on its scheduler).
        for (var i = 0; i < due.Count; i += InParallel)
            await Task.WhenAll(due.Skip(i).Take(InParallel).Select(TickAsync));
        return due.Count;
    }
}

/// <summary>
/// At silo start: opens the session store off the grain scheduler (its first use may create tables), then makes sure
/// every sweeper has its reminder. Every silo does this; registering a reminder twice changes nothing.
/// </summary>
internal sealed class SessionSweeperStartup(IServiceProvider services) : ILifecycleParticipant<ISiloLifecycle>
{
    public void Participate(ISiloLifecycle lifecycle)
    {
        lifecycle.Subscribe(nameof(SessionSweeperStartup), ServiceLifecycleStage.ApplicationServices, _ =>
        {
            services.GetRequiredService<ISessionStore>();
            return Task.CompletedTask;
        });
        lifecycle.Subscribe(nameof(SessionSweeperStartup), ServiceLifecycleStage.Active, async ct =>
        {
            var grains = services.GetRequiredService<IGrainFactory>();
            var count = Math.Max(1, services.GetRequiredService<IOptions<EvChargeOptions>>().Value.Sweepers);
            for (var shard = 0; shard < count; shard++)
                await grains.GetGrain<ISessionSweeperGrain>(shard).Start().WaitAsync(ct);
        });
    }
}
