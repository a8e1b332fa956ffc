using System.Data.Common;
using Microsoft.Data.Sqlite;

namespace EvCharge.Ledger;

/// <summary>
/// The ledger in a SQLite file (embedded profile). SQLite allows one writer at a time per database; instead of
/// letting a thousand concurrent posts fight for the write lock and surface SQLITE_BUSY, every write in this
/// process goes through one long-lived connection guarded by a semaphore. WAL mode lets readers (their own
/// pooled connections) run while the writer commits. busy_timeout still covers the remaining case: another
/// process (the migrator, a second tool) holding the lock for a moment.
/// </summary>
public sealed class SqliteLedger : ILedger, IAsyncDisposable, IDisposable
{
    private readonly string _connectionString;
    private readonly SemaphoreSlim _writeGate = new(1, 1);
    private readonly TimeProvider _time;
    private SqliteConnection? _writer;
    private bool _disposed;

    /// <param name="pathOrConnectionString">A file path, or a full Microsoft.Data.Sqlite connection string.</param>
    public SqliteLedger(string pathOrConnectionString, TimeProvider? time = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(pathOrConnectionString);
        _connectionString = ToConnectionString(pathOrConnectionString);
        _time = time ?? TimeProvider.System;
    }

    public string ConnectionString => _connectionString;

    internal static string ToConnectionString(string pathOrConnectionString)
    {
        var b = pathOrConnectionString.Contains('=')
            ? new SqliteConnectionStringBuilder(pathOrConnectionString)
            : new SqliteConnectionStringBuilder { DataSource = pathOrConnectionString };
        if (b.Mode == SqliteOpenMode.ReadWriteCreate && !string.IsNullOrEmpty(b.DataSource) && b.DataSource != ":memory:")
        {
            var dir = Path.GetDirectoryName(Path.GetFullPath(b.DataSource));
            if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
        }
        // Microsoft.Data.Sqlite retries SQLITE_BUSY until the command timeout; 30 s is generous for a ledger write.
        if (b.DefaultTimeout < 30) b.DefaultTimeout = 30;
        b.Pooling = true;
        return b.ToString();
    }

    /// <summary>Creates the ledger tables if they are missing (the same DDL as migration 0005_ledger).</summary>
    public async Task EnsureSchemaAsync(CancellationToken ct = default)
    {
        await _writeGate.WaitAsync(ct);
        try
        {
            var c = await WriterAsync(ct);
            await using var tx = (SqliteTransaction)await c.BeginTransactionAsync(ct); // BEGIN IMMEDIATE
            await using (var cmd = c.CreateCommand())
            {
                cmd.Transaction = tx;
                cmd.CommandText = LedgerSchema.Sqlite;
                await cmd.ExecuteNonQueryAsync(ct);
            }
            await tx.CommitAsync(ct);
        }
        finally { _writeGate.Release(); }
    }

    public Task<bool> PostAsync(Journal journal, CancellationToken ct = default)
    {
        LedgerRules.Validate(journal);
        return Enqueue([journal], ct);
    }

    public Task PostAllAsync(IReadOnlyList<Journal> journals, CancellationToken ct = default)
    {
        foreach (var journal in journals) LedgerRules.Validate(journal);
        return Enqueue(journals, ct); // one queue entry, hence one transaction for all of them
    }

    private Task<bool> Enqueue(IReadOnlyList<Journal> journals, CancellationToken ct)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var pending = new PendingPost(journals, _time.GetUtcNow().ToUnixTimeMilliseconds(), new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously));
        if (!_queue.Writer.TryWrite(pending)) throw new ObjectDisposedException(nameof(SqliteLedger));
        EnsureCommitLoop();
        return pending.Done.Task.WaitAsync(ct);
    }

    /// <summary>Journals committed together; Done is true if any of them was new (for one journal: it was posted).</summary>
    private sealed record PendingPost(IReadOnlyList<Journal> Journals, long PostedAt, TaskCompletionSource<bool> Done);

    private readonly System.Threading.Channels.Channel<PendingPost> _queue =
        System.Threading.Channels.Channel.CreateUnbounded<PendingPost>(new() { SingleReader = true });
    private Task? _commitLoop;
    private const int MaxGroup = 256;

    private void EnsureCommitLoop()
    {
        if (_commitLoop is not null) return;
        lock (_queue) _commitLoop ??= Task.Run(CommitLoopAsync);
    }

    /// <summary>
    /// Group commit: every journal waiting when the writer gets its turn goes into one transaction, so a thousand
    /// concurrent posts cost a handful of fsyncs instead of a thousand. Each caller still returns only after the
    /// transaction holding its journal is durable; a failed transaction fails every journal in it (none is half-posted).
    /// </summary>
    private async Task CommitLoopAsync()
    {
        var group = new List<PendingPost>(MaxGroup);
        while (await _queue.Reader.WaitToReadAsync())
        {
            group.Clear();
            while (group.Count < MaxGroup && _queue.Reader.TryRead(out var next)) group.Add(next);
            if (group.Count == 0) continue;
            await _writeGate.WaitAsync();
            try
            {
                var results = await CommitGroupAsync(group);
                for (var i = 0; i < group.Count; i++) group[i].Done.TrySetResult(results[i]);
            }
            catch (Exception ex)
            {
                // A failed write can leave the shared writer connection in an odd state; start afresh next time.
                if (_writer is not null) { await _writer.DisposeAsync(); _writer = null; }
                foreach (var p in group) p.Done.TrySetException(ex);
            }
            finally { _writeGate.Release(); }
        }
    }

    private async Task<bool[]> CommitGroupAsync(List<PendingPost> group)
    {
        var c = await WriterAsync(CancellationToken.None);
        await using var tx = (SqliteTransaction)await c.BeginTransactionAsync();
        await using var insertJournal = c.CreateCommand();
        insertJournal.Transaction = tx;
        // OR IGNORE: a key that is already there is a replay of the same posting, not an error.
        insertJournal.CommandText = """
            INSERT OR IGNORE INTO ledger_journals (journal_key, session_id, kind, reference, posted_at)
            VALUES ($key, $session, $kind, $reference, $at)
            """;
        var jKey = insertJournal.Parameters.Add("$key", SqliteType.Text);
        var jSession = insertJournal.Parameters.Add("$session", SqliteType.Text);
        var jKind = insertJournal.Parameters.Add("$kind", SqliteType.Text);
        var jReference = insertJournal.Parameters.Add("$reference", SqliteType.Text);
        var jAt = insertJournal.Parameters.Add("$at", SqliteType.Integer);

        await using var insertLine = c.CreateCommand();
        insertLine.Transaction = tx;
        insertLine.CommandText = """
            INSERT INTO ledger_lines (journal_key, line_no, session_id, account, amount, posted_at)
            VALUES ($key, $no, $session, $account, $amount, $at)
            """;
        var lKey = insertLine.Parameters.Add("$key", SqliteType.Text);
        var lNo = insertLine.Parameters.Add("$no", SqliteType.Integer);
        var lSession = insertLine.Parameters.Add("$session", SqliteType.Text);
        var lAccount = insertLine.Parameters.Add("$account", SqliteType.Text);
        var lAmount = insertLine.Parameters.Add("$amount", SqliteType.Integer);
        var lAt = insertLine.Parameters.Add("$at", SqliteType.Integer);

        var results = new bool[group.Count];
        for (var g = 0; g < group.Count; g++)
        foreach (var journal in group[g].Journals)
        {
            var postedAt = group[g].PostedAt;
            jKey.Value = journal.Key;
            jSession.Value = journal.SessionId;
            jKind.Value = journal.Kind.ToString();
            jReference.Value = (object?)journal.Reference ?? DBNull.Value;
            jAt.Value = postedAt;
            if (await insertJournal.ExecuteNonQueryAsync() == 0) continue; // already posted: a replay
            results[g] = true;
            lKey.Value = journal.Key;
            lSession.Value = journal.SessionId;
            lAt.Value = postedAt;
            for (var i = 0; i < journal.Lines.Count; i++)
            {
                lNo.Value = i + 1;
                lAccount.Value = journal.Lines[i].Account;
                lAmount.Value = journal.Lines[i].Amount;
                await insertLine.ExecuteNonQueryAsync();
            }
        }
        await tx.CommitAsync();
        return results;
    }

    private const string EntrySelect = """
        SELECT l.journal_key, l.session_id, j.kind, l.account, l.amount, j.reference, l.posted_at
        FROM ledger_lines l JOIN ledger_journals j ON j.journal_key = l.journal_key
        """;

    public Task<IReadOnlyList<LedgerEntry>> GetSessionEntriesAsync(string sessionId, CancellationToken ct = default) =>
        ReadEntriesAsync(EntrySelect + " WHERE l.session_id = $p0 ORDER BY l.posted_at, l.journal_key, l.line_no", ct, sessionId);

    public Task<IReadOnlyList<LedgerEntry>> GetAccountEntriesAsync(string account, DateTimeOffset? from = null, DateTimeOffset? to = null, CancellationToken ct = default) =>
        ReadEntriesAsync(EntrySelect + " WHERE l.account = $p0 AND l.posted_at >= $p1 AND l.posted_at < $p2 ORDER BY l.posted_at, l.journal_key, l.line_no", ct,
            account, (from ?? DateTimeOffset.MinValue).ToUnixTimeMilliseconds(), to?.ToUnixTimeMilliseconds() ?? long.MaxValue);

    public async Task<PayeeBalance> GetPayeeBalanceAsync(string payeeAccount, CancellationToken ct = default)
    {
        var account = LedgerRules.PayeeAccountName(payeeAccount);
        await using var c = await OpenReaderAsync(ct);
        await using var cmd = c.CreateCommand();
        cmd.CommandText = """
            SELECT COALESCE(SUM(CASE WHEN amount > 0 THEN amount ELSE 0 END), 0),
                   COALESCE(SUM(CASE WHEN amount < 0 THEN -amount ELSE 0 END), 0),
                   COALESCE(SUM(amount), 0),
                   COUNT(DISTINCT session_id)
            FROM ledger_lines WHERE account = $account
            """;
        cmd.Parameters.AddWithValue("$account", account);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        await r.ReadAsync(ct);
        return new PayeeBalance(account, r.GetInt64(0), r.GetInt64(1), r.GetInt64(2), (int)r.GetInt64(3));
    }

    public async Task<InvariantReport> CheckInvariantsAsync(CancellationToken ct = default)
    {
        await using var c = await OpenReaderAsync(ct);
        // One read transaction: in WAL mode it is a consistent snapshot even while posts continue.
        await using var tx = c.BeginTransaction(System.Data.IsolationLevel.Serializable, deferred: true);
        return await LedgerChecks.RunAsync(c, tx, ct);
    }

    private async Task<IReadOnlyList<LedgerEntry>> ReadEntriesAsync(string sql, CancellationToken ct, params object[] args)
    {
        await using var c = await OpenReaderAsync(ct);
        await using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        for (var i = 0; i < args.Length; i++) cmd.Parameters.AddWithValue("$p" + i, args[i]);
        var list = new List<LedgerEntry>();
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct))
            list.Add(new LedgerEntry(r.GetString(0), r.GetString(1), Enum.Parse<JournalKind>(r.GetString(2)), r.GetString(3),
                r.GetInt64(4), r.IsDBNull(5) ? null : r.GetString(5), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(6))));
        return list;
    }

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
        _queue.Writer.TryComplete();
        if (_commitLoop is not null) await _commitLoop; // journals already queued are committed, not dropped
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

/// <summary>The invariant check, identical for both stores: aggregate in SQL, judge in <see cref="LedgerRules"/>.</summary>
internal static class LedgerChecks
{
    public static async Task<InvariantReport> RunAsync(DbConnection c, DbTransaction? tx, CancellationToken ct)
    {
        long debits, credits; int journals;
        var violations = new List<InvariantViolation>();
        await using (var cmd = c.CreateCommand())
        {
            cmd.Transaction = tx;
            cmd.CommandText = LedgerRules.TotalsSql;
            await using var r = await cmd.ExecuteReaderAsync(ct);
            await r.ReadAsync(ct);
            debits = Convert.ToInt64(r.GetValue(0)); credits = Convert.ToInt64(r.GetValue(1)); journals = Convert.ToInt32(r.GetValue(2));
        }
        await using (var cmd = c.CreateCommand())
        {
            cmd.Transaction = tx;
            cmd.CommandText = LedgerRules.UnbalancedJournalsSql;
            await using var r = await cmd.ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct))
                violations.Add(new("journal-balanced", r.IsDBNull(1) ? null : r.GetString(1),
                    $"journal {r.GetString(0)} sums to {Convert.ToInt64(r.GetValue(2))}"));
        }
        await using (var cmd = c.CreateCommand())
        {
            cmd.Transaction = tx;
            cmd.CommandText = LedgerRules.SessionAggregatesSql;
            await using var r = await cmd.ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct))
                violations.AddRange(LedgerRules.Judge(LedgerRules.ReadAggregate(r)));
        }
        if (debits != credits)
            violations.Insert(0, new("debits-equal-credits", null, $"total debits {debits} != total credits {credits}"));
        return new InvariantReport(debits == credits, debits, credits, journals, violations);
    }
}
