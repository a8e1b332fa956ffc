using EvCharge.Reconciliation;
using Microsoft.Extensions.Logging;

namespace EvCharge.Grains;

/// <summary>The periodic reconciliation job: one per cluster (key <see cref="ReconciliationGrainKeys.Default"/>).</summary>
public interface IReconciliationGrain : IGrainWithStringKey
{
    /// <summary>Starts (or re-times) the periodic run; idempotent, safe to call from every silo at start-up.</summary>
    Task Schedule(TimeSpan period);
    Task Unschedule();
    Task<ReconciliationReport> RunNow();
    [Orleans.Concurrency.AlwaysInterleave]
    Task<ReconciliationReport?> GetLastReport();
}

public static class ReconciliationGrainKeys
{
    public const string Default = "default";
}

[GenerateSerializer]
public sealed record ReconciliationState
{
    [Id(0)] public ReconciliationReport? LastReport { get; init; }
    [Id(1)] public int Runs { get; init; }
}

/// <summary>
/// A grain with a durable reminder rather than a BackgroundService: a BackgroundService runs on every silo (N copies
/// of the same provider lookups, or a leader election to write), while a single grain activation is exactly one per
/// cluster, moves to a surviving silo when its silo dies, and its reminder lives in the same ADO.NET reminder table
/// as the session watchdogs. The last report is persisted so operators can read it without re-running.
/// </summary>
internal sealed class ReconciliationGrain(
    [PersistentState("reconciliation", "evcharge")] IPersistentState<ReconciliationState> state,
    ReconciliationService reconciler,
    ILogger<ReconciliationGrain> logger) : Grain, IReconciliationGrain, IRemindable
{
    private const string Reminder = "reconcile";

    public async Task Schedule(TimeSpan period) => await this.RegisterOrUpdateReminder(Reminder, period, period);

    public async Task Unschedule()
    {
        if (await this.GetReminder(Reminder) is { } r) await this.UnregisterReminder(r);
    }

    public async Task<ReconciliationReport> RunNow()
    {
        var report = await reconciler.RunAsync();
        state.State = state.State with { LastReport = report, Runs = state.State.Runs + 1 };
        await state.WriteStateAsync();
        if (!report.Clean) logger.LogWarning("Reconciliation run {Run} is not clean: {Report}", state.State.Runs, report);
        return report;
    }

    public Task<ReconciliationReport?> GetLastReport() => Task.FromResult(state.State.LastReport);

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (reminderName == Reminder) await RunNow();
    }
}
