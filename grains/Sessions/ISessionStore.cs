using EvCharge.Charging;
using EvCharge.Ledger;

namespace EvCharge.Sessions;

/// <summary>
/// One durable step of one session: its head row at <see cref="SessionHead.Version"/> (the state, serialized, in
/// <see cref="Body"/>), the step's new meter samples and its ledger journals. A step is written whole or not at all,
/// so a journal never lands without the state that explains it.
/// </summary>
public sealed record SessionStep(SessionHead Head, byte[] Body, IReadOnlyList<MeterSample> NewSamples, IReadOnlyList<Journal> Journals);

/// <summary>A session as stored: its version, its state without meter samples, the samples in time order, and the due time on its row.</summary>
public sealed record StoredSession(long Version, byte[] Body, IReadOnlyList<MeterSample> Samples, DateTimeOffset? DueAt = null);

/// <summary>A session live on a charger (authorized or charging): what the charger grain rebuilds its connector map from.</summary>
public sealed record LiveSession(string SessionId, SessionState State, int ConnectorId, int? TransactionId, string? Presentation, long HoldAmount, DateTimeOffset CreatedAt);

/// <summary>What a wallet paid, derived from its sessions.</summary>
public sealed record WalletHistory(IReadOnlyList<string> RecentSessions, long TotalPaid);

/// <summary>
/// Where sessions live: the head row per session, meter samples and the ledger, in the same database. Steps from
/// many sessions share one transaction (group commit); each caller returns only once its own step is committed, and a
/// step the database refuses fails alone. Reads serve the grains that derive their state from sessions (charger,
/// wallet), the sweepers and the operators' list (<see cref="ISessionIndex"/>).
/// </summary>
public interface ISessionStore
{
    /// <summary>
    /// Writes one step. Throws <see cref="SessionVersionConflictException"/> when the stored version is not
    /// <c>Head.Version - 1</c> (another activation wrote first), and <see cref="LiveWalletConflictException"/> when the step
    /// makes the session live on a wallet another session is live on.
    /// </summary>
    Task CommitAsync(SessionStep step, CancellationToken ct = default);
    Task<StoredSession?> LoadAsync(string sessionId, CancellationToken ct = default);
    /// <summary>Sessions whose due time has come, in the buckets of one sweeper (bucket mod <paramref name="shards"/> = <paramref name="shard"/>).</summary>
    Task<IReadOnlyList<string>> DueAsync(DateTimeOffset now, int shard, int shards, int limit, CancellationToken ct = default);
    Task<IReadOnlyList<LiveSession>> LiveOnChargerAsync(string chargerId, CancellationToken ct = default);
    Task<string?> LiveOnWalletAsync(string walletKey, CancellationToken ct = default);
    Task<string?> FindByTransactionAsync(string chargerId, int transactionId, CancellationToken ct = default);
    Task<WalletHistory> WalletHistoryAsync(string walletKey, int recent, CancellationToken ct = default);
    /// <summary>Commits and steps so far in this process (steps per commit shows the group commit at work).</summary>
    SessionStoreCounters Counters { get; }
}

public sealed class SessionStoreCounters
{
    private long _commits, _steps, _statements;
    public long Commits => Interlocked.Read(ref _commits);
    public long Steps => Interlocked.Read(ref _steps);
    public long Statements => Interlocked.Read(ref _statements);

    internal void Committed(int steps, int statements)
    {
        Interlocked.Increment(ref _commits);
        Interlocked.Add(ref _steps, steps);
        Interlocked.Add(ref _statements, statements);
    }
}

/// <summary>The session was written by someone else since it was loaded (a second activation after a failover).</summary>
public sealed class SessionVersionConflictException(string sessionId, long version)
    : Exception($"Session {sessionId}: version {version} was not the next one; another activation wrote it");

/// <summary>The database's backstop for one open session per wallet: another session is live on the wallet.</summary>
public sealed class LiveWalletConflictException(string sessionId, string? walletKey, Exception inner)
    : Exception($"Session {sessionId}: wallet {walletKey} already has a live session", inner);
