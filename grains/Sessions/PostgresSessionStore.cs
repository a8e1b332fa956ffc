using EvCharge.Charging;
using EvCharge.Infrastructure;
using EvCharge.Ledger;
using Npgsql;
using NpgsqlTypes;

namespace EvCharge.Sessions;

/// <summary>
/// Sessions in the cluster profile's PostgreSQL database, shared by every silo. All steps waiting when a writer is
/// free go into one transaction of at most three statements in one round trip, whatever their number: the head rows as
/// one multi-row upsert (arrays through <c>unnest</c>), the meter rows as one insert, the journals and their lines as
/// one insert. A head is only replaced where its stored version is the step's version − 1; if any head is refused
/// (or the live-wallet index objects), the batch is rolled back and <see cref="GroupCommit{TItem,TResult}"/> writes
/// each step alone, so only the step at fault fails.
/// </summary>
public sealed class PostgresSessionStore : ISessionStore, ISessionIndex, ISessionStatistics, IAsyncDisposable
{
    private const string LiveWalletIndex = "ux_sessions_live_wallet";
    /// <summary>A first step (version 1) for a session that already has a row: another activation wrote it first.</summary>
    private const string PrimaryKey = "pk_sessions";
    private readonly NpgsqlDataSource _dataSource;
    private readonly bool _ownsDataSource;
    private readonly GroupCommit<SessionStep, bool> _steps;

    public PostgresSessionStore(NpgsqlDataSource dataSource, int writers = 2, TimeSpan? gather = null)
    {
        _dataSource = dataSource ?? throw new ArgumentNullException(nameof(dataSource));
        _steps = new GroupCommit<SessionStep, bool>(CommitBatchAsync, maxBatch: 512, writers: writers,
            gather: gather ?? DefaultGather, gatherTarget: GatherTarget);
    }

    /// <summary>
    /// A few milliseconds on a step's way to disk buy many steps per commit at moderate load (measured in
    /// docs/performance.md); under heavy load batches fill without waiting.
    /// </summary>
    public static readonly TimeSpan DefaultGather = TimeSpan.FromMilliseconds(10);
    private const int GatherTarget = 32;

    public PostgresSessionStore(string connectionString) : this(NpgsqlDataSource.Create(connectionString)) => _ownsDataSource = true;

    public SessionStoreCounters Counters { get; } = new();

    /// <summary>Creates the tables if they are missing (the DDL of migrations 0005 and 0007; the migrator applies the same).</summary>
    public async Task EnsureSchemaAsync(CancellationToken ct = default)
    {
        await LedgerSchema.ApplyPostgresAsync(_dataSource, LedgerSchema.Postgres, ct);
        await LedgerSchema.ApplyPostgresAsync(_dataSource, SessionStoreSchema.Postgres, ct);
    }

    public Task CommitAsync(SessionStep step, CancellationToken ct = default)
    {
        foreach (var journal in step.Journals) LedgerRules.Validate(journal);
        return _steps.WriteAsync(step, ct);
    }

    /// <summary>
    /// One round trip: the batch's statements run in PostgreSQL's implicit transaction (one Sync, no BEGIN/COMMIT), so
    /// they commit together or not at all. The head statement ends in <c>evcharge_expect_rows</c>, which aborts the batch
    /// when a step was not at the expected version.
    /// </summary>
    private async Task<IReadOnlyList<bool>> CommitBatchAsync(IReadOnlyList<SessionStep> steps, CancellationToken ct)
    {
        await using var c = await _dataSource.OpenConnectionAsync(ct);
        await using var batch = new NpgsqlBatch(c);
        batch.BatchCommands.Add(HeadsCommand(steps));
        if (MetersCommand(steps) is { } meters) batch.BatchCommands.Add(meters);
        if (JournalsCommand(steps) is { } journals) batch.BatchCommands.Add(journals);
        try
        {
            await batch.ExecuteNonQueryAsync(ct);
        }
        catch (PostgresException e) when (steps.Count == 1 && e.SqlState == PostgresErrorCodes.UniqueViolation && e.ConstraintName == LiveWalletIndex)
        {
            throw new LiveWalletConflictException(steps[0].Head.SessionId, steps[0].Head.WalletKey, e);
        }
        catch (PostgresException e) when (steps.Count == 1 && (e.SqlState == VersionConflictState
                                                               || e.SqlState == PostgresErrorCodes.UniqueViolation && e.ConstraintName == PrimaryKey))
        {
            throw new SessionVersionConflictException(steps[0].Head.SessionId, steps[0].Head.Version);
        }
        Counters.Committed(steps.Count, batch.BatchCommands.Count);
        return Enumerable.Repeat(true, steps.Count).ToList();
    }

    /// <summary>Raised by <c>evcharge_expect_rows</c> (migration 0007).</summary>
    private const string VersionConflictState = "EV409";

    /// <summary>
    /// First steps are inserted; later steps update the row only where it is at the step's version − 1 (a plain update
    /// of a row whose indexed columns stayed the same is done in place). <c>evcharge_expect_rows</c> then checks that every
    /// step wrote its row.
    /// </summary>
    private const string WriteHeads = """
        WITH step AS (
            SELECT * FROM unnest(@session_id, @version, @state, @charger_id, @connector_id, @cpo_id, @wallet_key, @hold_amount, @energy_wh, @fee,
                                 @captured, @refunded, @debt, @seamless, @fee_mismatch, @reason, @created_at, @started_at, @stopped_at, @updated_at,
                                 @live, @transaction_id, @presentation, @due_at, @bucket, @body)
                AS t (session_id, version, state, charger_id, connector_id, cpo_id, wallet_key, hold_amount, energy_wh, fee, captured,
                      refunded, debt, seamless, fee_mismatch, reason, created_at, started_at, stopped_at, updated_at, live,
                      transaction_id, presentation, due_at, bucket, body)
        ),
        inserted AS (
            INSERT INTO sessions (session_id, version, state, charger_id, connector_id, cpo_id, wallet_key, hold_amount, energy_wh, fee,
                                  captured, refunded, debt, seamless, fee_mismatch, reason, created_at, started_at, stopped_at, updated_at,
                                  live, transaction_id, presentation, due_at, bucket, body)
            SELECT * FROM step WHERE step.version = 1
            RETURNING 1
        ),
        updated AS (
            UPDATE sessions SET
                version = step.version, state = step.state, wallet_key = step.wallet_key, hold_amount = step.hold_amount,
                energy_wh = step.energy_wh, fee = step.fee, captured = step.captured, refunded = step.refunded, debt = step.debt,
                fee_mismatch = step.fee_mismatch, reason = step.reason, started_at = step.started_at, stopped_at = step.stopped_at,
                updated_at = step.updated_at, live = step.live, transaction_id = step.transaction_id, due_at = step.due_at, body = step.body
            FROM step
            WHERE step.version > 1 AND sessions.session_id = step.session_id AND sessions.version = step.version - 1
            RETURNING 1
        )
        SELECT evcharge_expect_rows((SELECT count(*) FROM inserted) + (SELECT count(*) FROM updated), @expected)
        """;

    private static NpgsqlBatchCommand HeadsCommand(IReadOnlyList<SessionStep> steps)
    {
        var n = steps.Count;
        var id = new string[n]; var version = new long[n]; var state = new string[n]; var charger = new string?[n];
        var connector = new int[n]; var cpo = new string?[n]; var wallet = new string?[n]; var hold = new long[n]; var energy = new long[n];
        var fee = new long?[n]; var captured = new long[n]; var refunded = new long[n]; var debt = new long[n]; var seamless = new bool[n];
        var mismatch = new bool[n]; var reason = new string?[n]; var created = new DateTime[n]; var started = new DateTime?[n];
        var stopped = new DateTime?[n]; var updated = new DateTime[n]; var live = new bool[n]; var tx = new int?[n];
        var presentation = new string?[n]; var due = new DateTime?[n]; var bucket = new short[n]; var body = new byte[n][];
        for (var i = 0; i < n; i++)
        {
            var h = steps[i].Head;
            id[i] = h.SessionId; version[i] = h.Version; state[i] = h.State.ToString(); charger[i] = h.ChargerId; connector[i] = h.ConnectorId;
            cpo[i] = h.CpoId; wallet[i] = h.WalletKey; hold[i] = h.HoldAmount; energy[i] = h.EnergyWh; fee[i] = h.Fee; captured[i] = h.Captured;
            refunded[i] = h.Refunded; debt[i] = h.Debt; seamless[i] = h.Seamless; mismatch[i] = h.FeeMismatch; reason[i] = h.Reason;
            created[i] = Utc(h.CreatedAt); started[i] = Utc(h.StartedAt); stopped[i] = Utc(h.StoppedAt); updated[i] = Utc(h.UpdatedAt);
            live[i] = h.Live; tx[i] = h.TransactionId; presentation[i] = h.Presentation; due[i] = Utc(h.DueAt); bucket[i] = (short)h.Bucket;
            body[i] = steps[i].Body;
        }
        var cmd = new NpgsqlBatchCommand(WriteHeads);
        var p = cmd.Parameters;
        p.Add(new NpgsqlParameter<long>("expected", NpgsqlDbType.Bigint) { TypedValue = n });
        Array(p, "session_id", NpgsqlDbType.Text, id); Array(p, "version", NpgsqlDbType.Bigint, version);
        Array(p, "state", NpgsqlDbType.Text, state); Array(p, "charger_id", NpgsqlDbType.Text, charger);
        Array(p, "connector_id", NpgsqlDbType.Integer, connector); Array(p, "cpo_id", NpgsqlDbType.Text, cpo);
        Array(p, "wallet_key", NpgsqlDbType.Text, wallet); Array(p, "hold_amount", NpgsqlDbType.Bigint, hold);
        Array(p, "energy_wh", NpgsqlDbType.Bigint, energy); Array(p, "fee", NpgsqlDbType.Bigint, fee);
        Array(p, "captured", NpgsqlDbType.Bigint, captured); Array(p, "refunded", NpgsqlDbType.Bigint, refunded);
        Array(p, "debt", NpgsqlDbType.Bigint, debt); Array(p, "seamless", NpgsqlDbType.Boolean, seamless);
        Array(p, "fee_mismatch", NpgsqlDbType.Boolean, mismatch); Array(p, "reason", NpgsqlDbType.Text, reason);
        Array(p, "created_at", NpgsqlDbType.TimestampTz, created); Array(p, "started_at", NpgsqlDbType.TimestampTz, started);
        Array(p, "stopped_at", NpgsqlDbType.TimestampTz, stopped); Array(p, "updated_at", NpgsqlDbType.TimestampTz, updated);
        Array(p, "live", NpgsqlDbType.Boolean, live); Array(p, "transaction_id", NpgsqlDbType.Integer, tx);
        Array(p, "presentation", NpgsqlDbType.Text, presentation); Array(p, "due_at", NpgsqlDbType.TimestampTz, due);
        Array(p, "bucket", NpgsqlDbType.Smallint, bucket); Array(p, "body", NpgsqlDbType.Bytea, body);
        return cmd;
    }

    private static NpgsqlBatchCommand? MetersCommand(IReadOnlyList<SessionStep> steps)
    {
        var count = steps.Sum(s => s.NewSamples.Count);
        if (count == 0) return null;
        var id = new string[count]; var ts = new DateTime[count]; var wh = new long[count];
        var k = 0;
        foreach (var step in steps)
            foreach (var sample in step.NewSamples)
            {
                id[k] = step.Head.SessionId; ts[k] = Utc(sample.Timestamp); wh[k] = sample.EnergyWh; k++;
            }
        // A sample already stored (a retried step after an unknown outcome) is the same reading: keep the first.
        var cmd = new NpgsqlBatchCommand("""
            INSERT INTO session_meter (session_id, ts, energy_wh) SELECT * FROM unnest(@session_id, @ts, @energy_wh)
            ON CONFLICT (session_id, ts) DO NOTHING
            """);
        Array(cmd.Parameters, "session_id", NpgsqlDbType.Text, id);
        Array(cmd.Parameters, "ts", NpgsqlDbType.TimestampTz, ts);
        Array(cmd.Parameters, "energy_wh", NpgsqlDbType.Bigint, wh);
        return cmd;
    }

    private static NpgsqlBatchCommand? JournalsCommand(IReadOnlyList<SessionStep> steps)
    {
        var journals = steps.SelectMany(s => s.Journals.Select(j => (j, at: s.Head.UpdatedAt))).ToList();
        if (journals.Count == 0) return null;
        var lines = journals.Sum(x => x.j.Lines.Count);
        var key = new string[journals.Count]; var session = new string[journals.Count]; var kind = new string[journals.Count];
        var reference = new string?[journals.Count]; var posted = new DateTime[journals.Count];
        var lKey = new string[lines]; var lNo = new int[lines]; var lSession = new string[lines]; var lAccount = new string[lines];
        var lAmount = new long[lines]; var lPosted = new DateTime[lines];
        var k = 0;
        for (var i = 0; i < journals.Count; i++)
        {
            var (j, at) = journals[i];
            key[i] = j.Key; session[i] = j.SessionId; kind[i] = j.Kind.ToString(); reference[i] = j.Reference; posted[i] = Utc(at);
            for (var l = 0; l < j.Lines.Count; l++)
            {
                lKey[k] = j.Key; lNo[k] = l + 1; lSession[k] = j.SessionId; lAccount[k] = j.Lines[l].Account; lAmount[k] = j.Lines[l].Amount;
                lPosted[k] = posted[i]; k++;
            }
        }
        // Journal keys are fixed per session and step: a key already posted is a replay, and its lines are not added again.
        var cmd = new NpgsqlBatchCommand("""
            WITH journal AS (
                INSERT INTO ledger_journals (journal_key, session_id, kind, reference, posted_at)
                SELECT * FROM unnest(@key, @session_id, @kind, @reference, @posted_at)
                ON CONFLICT (journal_key) DO NOTHING
                RETURNING journal_key
            )
            INSERT INTO ledger_lines (journal_key, line_no, session_id, account, amount, posted_at)
            SELECT line.k, line.n, line.s, line.a, line.m, line.t
            FROM unnest(@l_key, @l_no, @l_session, @l_account, @l_amount, @l_posted) AS line (k, n, s, a, m, t)
            JOIN journal ON journal.journal_key = line.k
            """);
        var p = cmd.Parameters;
        Array(p, "key", NpgsqlDbType.Text, key); Array(p, "session_id", NpgsqlDbType.Text, session); Array(p, "kind", NpgsqlDbType.Text, kind);
        Array(p, "reference", NpgsqlDbType.Text, reference); Array(p, "posted_at", NpgsqlDbType.TimestampTz, posted);
        Array(p, "l_key", NpgsqlDbType.Text, lKey); Array(p, "l_no", NpgsqlDbType.Integer, lNo); Array(p, "l_session", NpgsqlDbType.Text, lSession);
        Array(p, "l_account", NpgsqlDbType.Text, lAccount); Array(p, "l_amount", NpgsqlDbType.Bigint, lAmount);
        Array(p, "l_posted", NpgsqlDbType.TimestampTz, lPosted);
        return cmd;
    }

    public async Task<StoredSession?> LoadAsync(string sessionId, CancellationToken ct = default)
    {
        await using var batch = _dataSource.CreateBatch();
        var head = new NpgsqlBatchCommand("SELECT version, body, due_at FROM sessions WHERE session_id = @id");
        head.Parameters.AddWithValue("id", sessionId);
        var meters = new NpgsqlBatchCommand("SELECT ts, energy_wh FROM session_meter WHERE session_id = @id ORDER BY ts");
        meters.Parameters.AddWithValue("id", sessionId);
        batch.BatchCommands.Add(head);
        batch.BatchCommands.Add(meters);
        await using var r = await batch.ExecuteReaderAsync(ct);
        if (!await r.ReadAsync(ct)) return null;
        var version = r.GetInt64(0);
        var body = (byte[])r.GetValue(1);
        DateTimeOffset? due = r.IsDBNull(2) ? null : new DateTimeOffset(r.GetDateTime(2), TimeSpan.Zero);
        await r.NextResultAsync(ct);
        var samples = new List<MeterSample>();
        while (await r.ReadAsync(ct)) samples.Add(new MeterSample(new DateTimeOffset(r.GetDateTime(0), TimeSpan.Zero), r.GetInt64(1)));
        return new StoredSession(version, body, samples, due);
    }

    public async Task<IReadOnlyList<string>> DueAsync(DateTimeOffset now, int shard, int shards, int limit, CancellationToken ct = default)
    {
        await using var cmd = _dataSource.CreateCommand(
            "SELECT session_id FROM sessions WHERE due_at <= @now AND bucket % @shards = @shard ORDER BY due_at LIMIT @limit");
        cmd.Parameters.AddWithValue("now", now.UtcDateTime);
        cmd.Parameters.AddWithValue("shards", (short)shards);
        cmd.Parameters.AddWithValue("shard", (short)shard);
        cmd.Parameters.AddWithValue("limit", limit);
        var ids = new List<string>();
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct)) ids.Add(r.GetString(0));
        return ids;
    }

    public async Task<IReadOnlyList<LiveSession>> LiveOnChargerAsync(string chargerId, CancellationToken ct = default)
    {
        await using var cmd = _dataSource.CreateCommand(
            "SELECT session_id, state, connector_id, transaction_id, presentation, hold_amount, created_at FROM sessions WHERE charger_id = @c AND live");
        cmd.Parameters.AddWithValue("c", chargerId);
        var list = new List<LiveSession>();
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct))
            list.Add(new LiveSession(r.GetString(0), Enum.Parse<SessionState>(r.GetString(1)), r.GetInt32(2), r.IsDBNull(3) ? null : r.GetInt32(3),
                r.IsDBNull(4) ? null : r.GetString(4), r.GetInt64(5), new DateTimeOffset(r.GetDateTime(6), TimeSpan.Zero)));
        return list;
    }

    public async Task<string?> LiveOnWalletAsync(string walletKey, CancellationToken ct = default)
    {
        await using var cmd = _dataSource.CreateCommand("SELECT session_id FROM sessions WHERE wallet_key = @w AND live");
        cmd.Parameters.AddWithValue("w", walletKey);
        return await cmd.ExecuteScalarAsync(ct) as string;
    }

    public async Task<string?> FindByTransactionAsync(string chargerId, int transactionId, CancellationToken ct = default)
    {
        await using var cmd = _dataSource.CreateCommand(
            "SELECT session_id FROM sessions WHERE charger_id = @c AND transaction_id = @t ORDER BY created_at DESC LIMIT 1");
        cmd.Parameters.AddWithValue("c", chargerId);
        cmd.Parameters.AddWithValue("t", transactionId);
        return await cmd.ExecuteScalarAsync(ct) as string;
    }

    public async Task<WalletHistory> WalletHistoryAsync(string walletKey, int recent, CancellationToken ct = default)
    {
        await using var batch = _dataSource.CreateBatch();
        var list = new NpgsqlBatchCommand("SELECT session_id FROM sessions WHERE wallet_key = @w ORDER BY created_at DESC LIMIT @n");
        list.Parameters.AddWithValue("w", walletKey);
        list.Parameters.AddWithValue("n", recent);
        var paid = new NpgsqlBatchCommand("SELECT COALESCE(SUM(captured - refunded), 0)::bigint FROM sessions WHERE wallet_key = @w");
        paid.Parameters.AddWithValue("w", walletKey);
        batch.BatchCommands.Add(list);
        batch.BatchCommands.Add(paid);
        await using var r = await batch.ExecuteReaderAsync(ct);
        var ids = new List<string>();
        while (await r.ReadAsync(ct)) ids.Add(r.GetString(0));
        await r.NextResultAsync(ct);
        await r.ReadAsync(ct);
        ids.Reverse(); // oldest first, as the wallet lists them
        return new WalletHistory(ids, r.GetInt64(0));
    }

    public async Task<SessionPage> QueryAsync(SessionQuery query, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        await using var cmd = _dataSource.CreateCommand();
        SessionIndexSql.BuildQuery(cmd, query, t => t.UtcDateTime, micros => SessionCursor.FromMicros(micros).UtcDateTime);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        return await SessionIndexSql.ReadPageAsync(r, query.Limit,
            (rd, i) => new DateTimeOffset(DateTime.SpecifyKind(rd.GetDateTime(i), DateTimeKind.Utc)), ct);
    }

    public async Task<IReadOnlyDictionary<SessionState, long>> CountByStateAsync(CancellationToken ct = default)
    {
        await using var cmd = _dataSource.CreateCommand();
        return await SessionStatisticsSql.ReadAsync(cmd, ct);
    }

    public async Task<IReadOnlyList<SessionActivity>> ActivityAsync(DateTimeOffset from, DateTimeOffset to, TimeSpan bucket, TimeSpan utcOffset,
        string? cpoId, CancellationToken ct = default)
    {
        await using var cmd = _dataSource.CreateCommand(SessionStatisticsSql.Activity("(extract(epoch from created_at) * 1000000)::bigint", cpoId is not null));
        SessionStatisticsSql.AddActivityParameters(cmd, bucket, utcOffset, cpoId, from.UtcDateTime, to.UtcDateTime);
        return await SessionStatisticsSql.ReadActivityAsync(cmd, bucket.Ticks / 10, utcOffset, ct);
    }

    private static DateTime Utc(DateTimeOffset t) => SessionCursor.Truncate(t).UtcDateTime;
    private static DateTime? Utc(DateTimeOffset? t) => t is { } v ? Utc(v) : null;

    private static void Array<T>(NpgsqlParameterCollection parameters, string name, NpgsqlDbType element, T[] values) =>
        parameters.Add(new NpgsqlParameter<T[]>(name, NpgsqlDbType.Array | element) { TypedValue = values });

    public async ValueTask DisposeAsync()
    {
        await _steps.DisposeAsync();
        if (_ownsDataSource) await _dataSource.DisposeAsync();
    }
}
