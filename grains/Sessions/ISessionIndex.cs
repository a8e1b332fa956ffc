using EvCharge.Charging;

namespace EvCharge.Sessions;

/// <summary>
/// A queryable projection of sessions for operators (lists with filters and paging). Grains are addressed by
/// key, not searched, so the session grain upserts its summary here on every state change. The summary is a
/// read model only: the grain's own state and the ledger remain the truth.
/// </summary>
public interface ISessionIndex
{
    Task UpsertAsync(SessionSummary summary, CancellationToken ct = default);
    Task<SessionPage> QueryAsync(SessionQuery query, CancellationToken ct = default);
}

public sealed record SessionSummary(
    string SessionId, SessionState State, string? ChargerId, int ConnectorId, string? CpoId, string? WalletKey,
    long HoldAmount, long EnergyWh, long? Fee, long Captured, long Refunded, long Debt, bool Seamless, bool FeeMismatch,
    string? Reason, DateTimeOffset CreatedAt, DateTimeOffset? StartedAt, DateTimeOffset? StoppedAt, DateTimeOffset UpdatedAt);

/// <summary>Filters are ANDed; paging is keyset on (CreatedAt desc, SessionId) through an opaque cursor.</summary>
public sealed record SessionQuery(
    string? CpoId = null, string? ChargerId = null, SessionState? State = null, DateTimeOffset? From = null,
    DateTimeOffset? To = null, bool? Seamless = null, int Limit = 50, string? Cursor = null);

public sealed record SessionPage(IReadOnlyList<SessionSummary> Items, string? NextCursor);
