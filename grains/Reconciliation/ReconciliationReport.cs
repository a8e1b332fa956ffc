namespace EvCharge.Reconciliation;

/// <summary>
/// <see cref="Missing"/>: the ledger records money (a hold, a capture, a release) the provider has no matching record of.
/// <see cref="Extra"/>: the provider holds or moved money the ledger has no journal for.
/// <see cref="Mismatched"/>: both know it, amounts or references differ.
/// </summary>
[GenerateSerializer]
public enum ReconciliationKind { Missing = 0, Extra = 1, Mismatched = 2 }

[GenerateSerializer, Immutable]
public sealed record ReconciliationFinding(
    [property: Id(0)] ReconciliationKind Kind,
    [property: Id(1)] string? SessionId,
    [property: Id(2)] string? AuthorizationId,
    [property: Id(3)] string Field,
    [property: Id(4)] long Ledger,
    [property: Id(5)] long Provider,
    [property: Id(6)] string Detail);

/// <summary>The outcome of one run. <see cref="Clean"/> means every ledger hold and every provider record agree.</summary>
[GenerateSerializer, Immutable]
public sealed record ReconciliationReport(
    [property: Id(0)] DateTimeOffset StartedAt,
    [property: Id(1)] DateTimeOffset FinishedAt,
    [property: Id(2)] int HoldsChecked,
    [property: Id(3)] int ProviderRecordsChecked,
    [property: Id(4)] IReadOnlyList<string> OpenHolds,
    [property: Id(5)] IReadOnlyList<string> Debts,
    [property: Id(6)] IReadOnlyList<ReconciliationFinding> Findings,
    [property: Id(7)] IReadOnlyList<string> Unreachable)
{
    public IEnumerable<ReconciliationFinding> Missing => Findings.Where(f => f.Kind == ReconciliationKind.Missing);
    public IEnumerable<ReconciliationFinding> Extra => Findings.Where(f => f.Kind == ReconciliationKind.Extra);
    public IEnumerable<ReconciliationFinding> Mismatched => Findings.Where(f => f.Kind == ReconciliationKind.Mismatched);
    /// <summary>No differences and every provider answered. Open holds (sessions in progress) are not differences.</summary>
    public bool Clean => Findings.Count == 0 && Unreachable.Count == 0;

    public override string ToString() =>
        $"holds {HoldsChecked}, provider records {ProviderRecordsChecked}, open {OpenHolds.Count}, debts {Debts.Count}, " +
        $"missing {Missing.Count()}, extra {Extra.Count()}, mismatched {Mismatched.Count()}, unreachable {Unreachable.Count}" +
        string.Concat(Findings.Take(20).Select(f => $"\n  {f.Kind} {f.Field} session={f.SessionId} auth={f.AuthorizationId} ledger={f.Ledger} provider={f.Provider}: {f.Detail}"));
}
