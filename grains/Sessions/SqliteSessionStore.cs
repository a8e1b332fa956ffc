using EvCharge.Charging;
using EvCharge.Infrastructure;
using EvCharge.Ledger;
using Microsoft.Data.Sqlite;

namespace EvCharge.Sessions;

/// <summary>
/// Sessions in the embedded profile's SQLite file, next to the ledger. SQLite has one writer per file, and its cost is
/// the WAL sync at each commit: every step waiting when the writer is free goes into one transaction (one sync), written
/// through one long-lived connection with prepared statements. Readers use their own pooled connections; WAL lets them
/// run while the writer commits. A step the database refuses rolls its batch back and is retried alone
/// (<see cref="GroupCommit{TItem,TResult}"/>), so only that step fails.
/// </summary>
public sealed class SqliteSessionStore : ISessionStore, ISessionIndex, ISessionStatistics, IAsyncDisposable, IDisposable
{
    private readonly string _connectionString;
    private readonly GroupCommit<SessionStep, bool> _steps;
    private readonly SemaphoreSlim _writeGate = new(1, 1);
    private SqliteConnection? _writer;
    private bool _disposed;

    public SqliteSessionStore(string pathOrConnectionString)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(pathOrConnectionString);
        _connectionString = SqliteLedger.ToConnectionString(pathOrConnectionString);
        // One writer: SQLite has one write lock per file. While it syncs a batch to the WAL the next one gathers.
        _steps = new GroupCommit<SessionStep, bool>(CommitBatchAsync, maxBatch: 512, writers: 1,
            gather: PostgresSessionStore.DefaultGather, gatherTarget: 32);
    }

    public string ConnectionString => _connectionString;
    public SessionStoreCounters Counters { get; } = new();

    /// <summary>Creates the tables if they are missing (the DDL of migrations 0005 and 0007; the migrator applies the same).</summary>
    public async Task EnsureSchemaAsync(CancellationToken ct = default)
    {
        await _writeGate.WaitAsync(ct);
        try
        {
            var c = await WriterAsync(ct);
            await using var tx = c.BeginTransaction(deferred: false);
            await using var cmd = c.CreateCommand();
            cmd.Transaction = tx;
            cmd.CommandText = LedgerSchema.Sqlite + "\n" + SessionStoreSchema.Sqlite;
            await cmd.ExecuteNonQueryAsync(ct);
            await tx.CommitAsync(ct);
        }
        finally { _writeGate.Release(); }
    }

    public Task CommitAsync(SessionStep step, CancellationToken ct = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        foreach (var journal in step.Journals) LedgerRules.Validate(journal);
        return _steps.WriteAsync(step, ct);
    }

    private const string UpsertHead = """
        INSERT INTO sessions (session_id, version, state, charger_id, connector_id, cpo_id, wallet_key, hold_amount, energy_wh, fee,
                              captured, refunded, debt, seamless, fee_mismatch, reason, created_at, started_at, stopped_at, updated_at,
                              live, transaction_id, presentation, due_at, bucket, body)
        SELECT $session_id, $version, $state, $charger_id, $connector_id, $cpo_id, $wallet_key, $hold_amount, $energy_wh, $fee,
               $captured, $refunded, $debt, $seamless, $fee_mismatch, $reason, $created_at, $started_at, $stopped_at, $updated_at,
               $live, $transaction_id, $presentation, $due_at, $bucket, $body
        -- A session's first step is version 1; any later one must find the row it follows.
        WHERE $version = 1 OR EXISTS (SELECT 1 FROM sessions WHERE session_id = $session_id)
        ON CONFLICT (session_id) DO UPDATE SET
            version = excluded.version, state = excluded.state, wallet_key = excluded.wallet_key, hold_amount = excluded.hold_amount,
            energy_wh = excluded.energy_wh, fee = excluded.fee, captured = excluded.captured, refunded = excluded.refunded,
            debt = excluded.debt, fee_mismatch = excluded.fee_mismatch, reason = excluded.reason, started_at = excluded.started_at,
            stopped_at = excluded.stopped_at, updated_at = excluded.updated_at, live = excluded.live,
            transaction_id = excluded.transaction_id, due_at = excluded.due_at, body = excluded.body
        WHERE sessions.version = excluded.version - 1
        """;

    private async Task<IReadOnlyList<bool>> CommitBatchAsync(IReadOnlyList<SessionStep> steps, CancellationToken ct)
    {
        await _writeGate.WaitAsync(ct);
        try
        {
            var c = await WriterAsync(ct);
            await using var tx = c.BeginTransaction(deferred: false);
            var statements = 0;
            await using var head = Prepare(c, tx, UpsertHead,
                "session_id", "version", "state", "charger_id", "connector_id", "cpo_id", "wallet_key", "hold_amount", "energy_wh", "fee",
                "captured", "refunded", "debt", "seamless", "fee_mismatch", "reason", "created_at", "started_at", "stopped_at", "updated_at",
                "live", "transaction_id", "presentation", "due_at", "bucket", "body");
            await using var meter = Prepare(c, tx,
                "INSERT INTO session_meter (session_id, ts, energy_wh) VALUES ($session_id, $ts, $energy_wh) ON CONFLICT (session_id, ts) DO NOTHING",
                "session_id", "ts", "energy_wh");
            // OR IGNORE: a key already posted is a replay of the same step, and its lines are not added again.
            await using var journal = Prepare(c, tx,
                "INSERT OR IGNORE INTO ledger_journals (journal_key, session_id, kind, reference, posted_at) VALUES ($key, $session_id, $kind, $reference, $at)",
                "key", "session_id", "kind", "reference", "at");
            await using var line = Prepare(c, tx,
                "INSERT INTO ledger_lines (journal_key, line_no, session_id, account, amount, posted_at) VALUES ($key, $no, $session_id, $account, $amount, $at)",
                "key", "no", "session_id", "account", "amount", "at");

            foreach (var step in steps)
            {
                var h = step.Head;
                Set(head, h.SessionId, h.Version, h.State.ToString(), h.ChargerId, h.ConnectorId, h.CpoId, h.WalletKey, h.HoldAmount, h.EnergyWh, h.Fee,
                    h.Captured, h.Refunded, h.Debt, h.Seamless, h.FeeMismatch, h.Reason, Micros(h.CreatedAt), Micros(h.StartedAt), Micros(h.StoppedAt),
                    Micros(h.UpdatedAt), h.Live, h.TransactionId, h.Presentation, Micros(h.DueAt), h.Bucket, step.Body);
                int written;
                try
                {
                    written = await head.ExecuteNonQueryAsync(ct);
                }
                catch (SqliteException e) when (e.SqliteErrorCode == 19 && e.Message.Contains("sessions.wallet_key", StringComparison.Ordinal) && steps.Count == 1)
                {
                    throw new LiveWalletConflictException(h.SessionId, h.WalletKey, e);
                }
                statements++;
                if (written != 1)
                {
                    if (steps.Count == 1) throw new SessionVersionConflictException(h.SessionId, h.Version);
                    throw new InvalidOperationException($"session {h.SessionId} was not at version {h.Version - 1}");
                }
                foreach (var sample in step.NewSamples)
                {
                    Set(meter, h.SessionId, Micros(sample.Timestamp), sample.EnergyWh);
                    await meter.ExecuteNonQueryAsync(ct);
                    statements++;
                }
                var postedAt = h.UpdatedAt.ToUnixTimeMilliseconds(); // the ledger's own unit
                foreach (var j in step.Journals)
                {
                    Set(journal, j.Key, j.SessionId, j.Kind.ToString(), j.Reference, postedAt);
                    statements++;
                    if (await journal.ExecuteNonQueryAsync(ct) == 0) continue;
                    for (var i = 0; i < j.Lines.Count; i++)
                    {
                        Set(line, j.Key, i + 1, j.SessionId, j.Lines[i].Account, j.Lines[i].Amount, postedAt);
                        await line.ExecuteNonQueryAsync(ct);
                        statements++;
                    }
                }
            }
            await tx.CommitAsync(ct);
            Counters.Committed(steps.Count, statements);
            return Enumerable.Repeat(true, steps.Count).ToList();
        }
        catch (Exception e) when (e is not (SessionVersionConflictException or LiveWalletConflictException or InvalidOperationException))
        {
            // A failed write can leave the writer connection in an odd state; start afresh next time.
            if (_writer is not null) { await _writer.DisposeAsync(); _writer = null; }
            throw;
        }
        finally { _writeGate.Release(); }
    }

    public async Task<StoredSession?> LoadAsync(string sessionId, CancellationToken ct = default)
    {
        await using var c = await OpenReaderAsync(ct);
        await using var tx = c.BeginTransaction(deferred: true); // head and samples from one snapshot
        await using var head = c.CreateCommand();
        head.Transaction = tx;
        head.CommandText = "SELECT version, body, due_at FROM sessions WHERE session_id = $id";
        head.Parameters.AddWithValue("$id", sessionId);
        long version;
        byte[] body;
        DateTimeOffset? due;
        await using (var r = await head.ExecuteReaderAsync(ct))
        {
            if (!await r.ReadAsync(ct)) return null;
            version = r.GetInt64(0);
            body = (byte[])r.GetValue(1);
            due = r.IsDBNull(2) ? null : SessionCursor.FromMicros(r.GetInt64(2));
        }
        await using var meters = c.CreateCommand();
        meters.Transaction = tx;
        meters.CommandText = "SELECT ts, energy_wh FROM session_meter WHERE session_id = $id ORDER BY ts";
        meters.Parameters.AddWithValue("$id", sessionId);
        var samples = new List<MeterSample>();
        await using (var r = await meters.ExecuteReaderAsync(ct))
            while (await r.ReadAsync(ct)) samples.Add(new MeterSample(SessionCursor.FromMicros(r.GetInt64(0)), r.GetInt64(1)));
        return new StoredSession(version, body, samples, due);
    }

    public Task<IReadOnlyList<string>> DueAsync(DateTimeOffset now, int shard, int shards, int limit, CancellationToken ct = default) =>
        ReadAsync("SELECT session_id FROM sessions WHERE due_at <= $p0 AND bucket % $p1 = $p2 ORDER BY due_at LIMIT $p3",
            r => r.GetString(0), ct, SessionCursor.ToMicros(now), shards, shard, limit);

    public Task<IReadOnlyList<LiveSession>> LiveOnChargerAsync(string chargerId, CancellationToken ct = default) =>
        ReadAsync("SELECT session_id, state, connector_id, transaction_id, presentation, hold_amount, created_at FROM sessions WHERE charger_id = $p0 AND live = 1",
            r => new LiveSession(r.GetString(0), Enum.Parse<SessionState>(r.GetString(1)), r.GetInt32(2), r.IsDBNull(3) ? null : r.GetInt32(3),
                r.IsDBNull(4) ? null : r.GetString(4), r.GetInt64(5), SessionCursor.FromMicros(r.GetInt64(6))), ct, chargerId);

    public async Task<string?> LiveOnWalletAsync(string walletKey, CancellationToken ct = default) =>
        (await ReadAsync("SELECT session_id FROM sessions WHERE wallet_key = $p0 AND live = 1", r => r.GetString(0), ct, walletKey)).FirstOrDefault();

    public async Task<string?> FindByTransactionAsync(string chargerId, int transactionId, CancellationToken ct = default) =>
        (await ReadAsync("SELECT session_id FROM sessions WHERE charger_id = $p0 AND transaction_id = $p1 ORDER BY created_at DESC LIMIT 1",
            r => r.GetString(0), ct, chargerId, transactionId)).FirstOrDefault();

    public async Task<WalletHistory> WalletHistoryAsync(string walletKey, int recent, CancellationToken ct = default)
    {
        var ids = await ReadAsync("SELECT session_id FROM sessions WHERE wallet_key = $p0 ORDER BY created_at DESC LIMIT $p1", r => r.GetString(0), ct, walletKey, recent);
        var paid = await ReadAsync("SELECT COALESCE(SUM(captured - refunded), 0) FROM sessions WHERE wallet_key = $p0", r => r.GetInt64(0), ct, walletKey);
        return new WalletHistory(ids.Reverse().ToList(), paid[0]);
    }

    public async Task<SessionPage> QueryAsync(SessionQuery query, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        await using var c = await OpenReaderAsync(ct);
        await using var cmd = c.CreateCommand();
        SessionIndexSql.BuildQuery(cmd, query, t => SessionCursor.ToMicros(t), micros => micros);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        return await SessionIndexSql.ReadPageAsync(r, query.Limit, (rd, i) => SessionCursor.FromMicros(rd.GetInt64(i)), ct);
    }

    public async Task<IReadOnlyDictionary<SessionState, long>> CountByStateAsync(CancellationToken ct = default)
    {
        await using var c = await OpenReaderAsync(ct);
        await using var cmd = c.CreateCommand();
        return await SessionStatisticsSql.ReadAsync(cmd, ct);
    }

    public async Task<IReadOnlyList<SessionActivity>> ActivityAsync(DateTimeOffset from, DateTimeOffset to, TimeSpan bucket, TimeSpan utcOffset,
        string? cpoId, CancellationToken ct = default)
    {
        await using var c = await OpenReaderAsync(ct);
        await using var cmd = c.CreateCommand();
        cmd.CommandText = SessionStatisticsSql.Activity("created_at", cpoId is not null);
        SessionStatisticsSql.AddActivityParameters(cmd, bucket, utcOffset, cpoId, Micros(from), Micros(to));
        return await SessionStatisticsSql.ReadActivityAsync(cmd, bucket.Ticks / 10, utcOffset, ct);
    }

    private async Task<IReadOnlyList<T>> ReadAsync<T>(string sql, Func<SqliteDataReader, T> map, CancellationToken ct, params object[] args)
    {
        await using var c = await OpenReaderAsync(ct);
        await using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        for (var i = 0; i < args.Length; i++) cmd.Parameters.AddWithValue("$p" + i, args[i]);
        var list = new List<T>();
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct)) list.Add(map(r));
        return list;
    }

    private static SqliteCommand Prepare(SqliteConnection c, SqliteTransaction tx, string sql, params string[] names)
    {
        var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = sql;
        foreach (var name in names) cmd.Parameters.Add(new SqliteParameter("$" + name, null));
        return cmd;
    }

    private static void Set(SqliteCommand cmd, params object?[] values)
    {
        for (var i = 0; i < values.Length; i++)
            cmd.Parameters[i].Value = values[i] switch { null => DBNull.Value, bool b => b ? 1 : 0, var v => v };
    }

    private static long Micros(DateTimeOffset t) => SessionCursor.ToMicros(t);
    private static long? Micros(DateTimeOffset? t) => t is { } v ? SessionCursor.ToMicros(v) : null;

    private async ValueTask<SqliteConnection> WriterAsync(CancellationToken ct)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_writer is { State: System.Data.ConnectionState.Open }) return _writer;
        return _writer = await SqliteConnections.OpenWriterAsync(_connectionString, ct);
    }

    private Task<SqliteConnection> OpenReaderAsync(CancellationToken ct)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return SqliteConnections.OpenReaderAsync(_connectionString, ct);
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed) return;
        await _steps.DisposeAsync(); // steps already queued are committed, not dropped
        await _writeGate.WaitAsync();
        try
        {
            _disposed = true;
            if (_writer is not null) await _writer.DisposeAsync();
            _writer = null;
        }
        finally { _writeGate.Release(); }
    }

    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();
}
