using EvCharge.Charging;

namespace EvCharge.Sessions;

/// <summary>
/// Sessions for operators: lists with filters and keyset paging. Grains are addressed by key, not searched, so the
/// list is read from the session rows every durable step writes (<see cref="ISessionStore"/>); the session's own
/// state and the ledger remain the truth.
/// </summary>
public interface ISessionIndex
{
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
