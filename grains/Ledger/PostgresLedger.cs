using EvCharge.Infrastructure;
using Npgsql;
using NpgsqlTypes;

namespace EvCharge.Ledger;

/// <summary>
/// The ledger in PostgreSQL (cluster profile), shared by every silo. Idempotency rests on the journal key's
/// primary key: concurrent posts of the same key serialise on that unique index, the first inserts, the others
/// see the committed row and do nothing.
/// </summary>
public sealed class PostgresLedger : ILedger, IAsyncDisposable
{
    private readonly NpgsqlDataSource _dataSource;
    private readonly bool _ownsDataSource;
    private readonly TimeProvider _time;

    private readonly GroupCommit<IReadOnlyList<Journal>, bool> _posts;

    public PostgresLedger(NpgsqlDataSource dataSource, TimeProvider? time = null)
    {
        _dataSource = dataSource ?? throw new ArgumentNullException(nameof(dataSource));
        _time = time ?? TimeProvider.System;
        _posts = new GroupCommit<IReadOnlyList<Journal>, bool>(CommitAsync);
    }

    public PostgresLedger(string connectionString, TimeProvider? time = null)
        : this(NpgsqlDataSource.Create(connectionString), time) => _ownsDataSource = true;

    /// <summary>Creates the ledger tables if they are missing (the same DDL as migration 0005_ledger).</summary>
    public Task EnsureSchemaAsync(CancellationToken ct = default) =>
        LedgerSchema.ApplyPostgresAsync(_dataSource, LedgerSchema.Postgres, ct);

    public async Task<bool> PostAsync(Journal journal, CancellationToken ct = default)
    {
        LedgerRules.Validate(journal);
        return await _posts.WriteAsync([journal], ct);
    }

    public async Task PostAllAsync(IReadOnlyList<Journal> journals, CancellationToken ct = default)
    {
        foreach (var journal in journals) LedgerRules.Validate(journal);
        await _posts.WriteAsync(journals, ct); // one item, hence in one transaction: all of them or none
    }

    /// <summary>
    /// Group commit: the postings waiting when a writer is free share one transaction (each posting's journals
    /// stay together in it). Returns per posting whether any of its journals was new.
    /// </summary>
    private async Task<IReadOnlyList<bool>> CommitAsync(IReadOnlyList<IReadOnlyList<Journal>> postings, CancellationToken ct)
    {
        await using var c = await _dataSource.OpenConnectionAsync(ct);
        var journals = postings.Sum(p => p.Count);
        await using var tx = journals > 1 ? await c.BeginTransactionAsync(ct) : null;
        var results = new bool[postings.Count];
        for (var i = 0; i < postings.Count; i++)
            foreach (var journal in postings[i])
            {
                await using var cmd = PostCommand(journal, c, tx);
                if (await cmd.ExecuteNonQueryAsync(ct) > 0) results[i] = true;
            }
        if (tx is not null) await tx.CommitAsync(ct);
        return results;
    }

    private NpgsqlCommand PostCommand(Journal journal, NpgsqlConnection? connection, NpgsqlTransaction? tx)
    {
        var n = journal.Lines.Count;
        var accounts = new string[n];
        var amounts = new long[n];
        for (var i = 0; i < n; i++) { accounts[i] = journal.Lines[i].Account; amounts[i] = journal.Lines[i].Amount; }

        // One statement, hence one transaction: the journal row and all its lines, or nothing. When the key
        // exists, the journal CTE returns no row, so no line is inserted and the statement affects 0 rows.
        const string sql = """
            WITH journal AS (
                INSERT INTO ledger_journals (journal_key, session_id, kind, reference, posted_at)
                VALUES (@key, @session, @kind, @reference, @at)
                ON CONFLICT (journal_key) DO NOTHING
                RETURNING journal_key
            )
            INSERT INTO ledger_lines (journal_key, line_no, session_id, account, amount, posted_at)
            SELECT journal.journal_key, line.no, @session, line.account, line.amount, @at
            FROM journal, unnest(@accounts, @amounts) WITH ORDINALITY AS line (account, amount, no)
            """;
        var cmd = connection is null ? _dataSource.CreateCommand(sql) : new NpgsqlCommand(sql, connection, tx);
        cmd.Parameters.AddWithValue("key", journal.Key);
        cmd.Parameters.AddWithValue("session", journal.SessionId);
        cmd.Parameters.AddWithValue("kind", journal.Kind.ToString());
        cmd.Parameters.Add(new NpgsqlParameter("reference", NpgsqlDbType.Text) { Value = (object?)journal.Reference ?? DBNull.Value });
        cmd.Parameters.AddWithValue("at", _time.GetUtcNow().UtcDateTime);
        cmd.Parameters.Add(new NpgsqlParameter("accounts", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = accounts });
        cmd.Parameters.Add(new NpgsqlParameter("amounts", NpgsqlDbType.Array | NpgsqlDbType.Bigint) { Value = amounts });
        return cmd;
    }

    private const string EntrySelect = """
        SELECT l.journal_key, l.session_id, j.kind, l.account, l.amount, j.reference, l.posted_at
        FROM ledger_lines l JOIN ledger_journals j ON j.journal_key = l.journal_key
        """;

    public async Task<IReadOnlyList<LedgerEntry>> GetSessionEntriesAsync(string sessionId, CancellationToken ct = default)
    {
        await using var cmd = _dataSource.CreateCommand(EntrySelect + " WHERE l.session_id = @s ORDER BY l.posted_at, l.journal_key, l.line_no");
        cmd.Parameters.AddWithValue("s", sessionId);
        return await ReadEntriesAsync(cmd, ct);
    }

    public async Task<IReadOnlyList<LedgerEntry>> GetAccountEntriesAsync(string account, DateTimeOffset? from = null, DateTimeOffset? to = null, CancellationToken ct = default)
    {
        await using var cmd = _dataSource.CreateCommand(EntrySelect +
            " WHERE l.account = @a AND (@from::timestamptz IS NULL OR l.posted_at >= @from) AND (@to::timestamptz IS NULL OR l.posted_at < @to)" +
            " ORDER BY l.posted_at, l.journal_key, l.line_no");
        cmd.Parameters.AddWithValue("a", account);
        cmd.Parameters.Add(new NpgsqlParameter("from", NpgsqlDbType.TimestampTz) { Value = from is { } f ? f.UtcDateTime : DBNull.Value });
        cmd.Parameters.Add(new NpgsqlParameter("to", NpgsqlDbType.TimestampTz) { Value = to is { } t ? t.UtcDateTime : DBNull.Value });
        return await ReadEntriesAsync(cmd, ct);
    }

    public async Task<PayeeBalance> GetPayeeBalanceAsync(string payeeAccount, CancellationToken ct = default)
    {
        var account = LedgerRules.PayeeAccountName(payeeAccount);
        await using var cmd = _dataSource.CreateCommand("""
            SELECT COALESCE(SUM(CASE WHEN amount > 0 THEN amount ELSE 0 END), 0)::bigint,
                   COALESCE(SUM(CASE WHEN amount < 0 THEN -amount ELSE 0 END), 0)::bigint,
                   COALESCE(SUM(amount), 0)::bigint,
                   COUNT(DISTINCT session_id)::int
            FROM ledger_lines WHERE account = @a
            """);
        cmd.Parameters.AddWithValue("a", account);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        await r.ReadAsync(ct);
        return new PayeeBalance(account, r.GetInt64(0), r.GetInt64(1), r.GetInt64(2), r.GetInt32(3));
    }

    public async Task<InvariantReport> CheckInvariantsAsync(CancellationToken ct = default)
    {
        await using var c = await _dataSource.OpenConnectionAsync(ct);
        // REPEATABLE READ: all three queries see the same snapshot while other silos keep posting.
        await using var tx = await c.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, ct);
        var report = await LedgerChecks.RunAsync(c, tx, ct);
        await tx.CommitAsync(ct);
        return report;
    }

    private static async Task<IReadOnlyList<LedgerEntry>> ReadEntriesAsync(NpgsqlCommand cmd, CancellationToken ct)
    {
        var list = new List<LedgerEntry>();
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct))
            list.Add(new LedgerEntry(r.GetString(0), r.GetString(1), Enum.Parse<JournalKind>(r.GetString(2)), r.GetString(3),
                r.GetInt64(4), r.IsDBNull(5) ? null : r.GetString(5), new DateTimeOffset(r.GetDateTime(6), TimeSpan.Zero)));
        return list;
    }

    public async ValueTask DisposeAsync()
    {
        await _posts.DisposeAsync();
        if (_ownsDataSource) await _dataSource.DisposeAsync();
    }
}
