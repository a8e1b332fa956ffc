using EvCharge.Ledger;
using Microsoft.Data.Sqlite;

namespace EvCharge.Sessions;

/// <summary>
/// The session index in the embedded profile's SQLite file, next to the ledger. Writes follow the ledger's rule
/// (see <see cref="SqliteLedger"/>): one long-lived writer connection per process behind a semaphore, WAL so
/// readers on their own pooled connections never wait for it, busy_timeout for the other writers of the file.
/// </summary>
public sealed class SqliteSessionIndex : ISessionIndex, ISessionStatistics, IAsyncDisposable, IDisposable
{
    private readonly string _connectionString;
    private readonly SemaphoreSlim _writeGate = new(1, 1);
    private SqliteConnection? _writer;
    private bool _disposed;

    public SqliteSessionIndex(string pathOrConnectionString)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(pathOrConnectionString);
        _connectionString = SqliteLedger.ToConnectionString(pathOrConnectionString);
    }

    public string ConnectionString => _connectionString;

    public async Task EnsureSchemaAsync(CancellationToken ct = default) =>
        await WriteAsync(async (c, tx) =>
        {
            await using var cmd = c.CreateCommand();
            cmd.Transaction = tx;
            cmd.CommandText = SessionIndexSchema.Sqlite;
            await cmd.ExecuteNonQueryAsync(ct);
        }, ct);

    public Task UpsertAsync(SessionSummary summary, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(summary);
        return WriteAsync(async (c, tx) =>
        {
            await using var cmd = c.CreateCommand();
            cmd.Transaction = tx;
            cmd.CommandText = SessionIndexSql.Upsert;
            SessionIndexSql.AddUpsertParameters(cmd, summary, t => t is { } v ? SessionCursor.ToMicros(v) : DBNull.Value);
            await cmd.ExecuteNonQueryAsync(ct);
        }, ct);
    }

    public async Task<SessionPage> QueryAsync(SessionQuery query, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        ObjectDisposedException.ThrowIf(_disposed, this);
        await using var c = new SqliteConnection(_connectionString);
        await c.OpenAsync(ct);
        await using var cmd = c.CreateCommand();
        SessionIndexSql.BuildQuery(cmd, query, t => SessionCursor.ToMicros(t), micros => micros);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        return await SessionIndexSql.ReadPageAsync(r, query.Limit, (rd, i) => SessionCursor.FromMicros(rd.GetInt64(i)), ct);
    }

    public async Task<IReadOnlyDictionary<Charging.SessionState, long>> CountByStateAsync(CancellationToken ct = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        await using var c = new SqliteConnection(_connectionString);
        await c.OpenAsync(ct);
        await using var cmd = c.CreateCommand();
        return await SessionStatisticsSql.ReadAsync(cmd, ct);
    }

    private async Task WriteAsync(Func<SqliteConnection, SqliteTransaction, Task> work, CancellationToken ct)
    {
        await _writeGate.WaitAsync(ct);
        try
        {
            var c = await WriterAsync(ct);
            await using var tx = (SqliteTransaction)await c.BeginTransactionAsync(ct);
            await work(c, tx);
            await tx.CommitAsync(ct);
        }
        catch
        {
            if (_writer is not null) { await _writer.DisposeAsync(); _writer = null; }
            throw;
        }
        finally { _writeGate.Release(); }
    }

    private async ValueTask<SqliteConnection> WriterAsync(CancellationToken ct)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_writer is { State: System.Data.ConnectionState.Open }) return _writer;
        var c = new SqliteConnection(_connectionString);
        await c.OpenAsync(ct);
        await using (var cmd = c.CreateCommand())
        {
            // A read model: NORMAL is enough, a lost projection is repaired by the session's next state change.
            cmd.CommandText = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000;";
            await cmd.ExecuteNonQueryAsync(ct);
        }
        _writer = c;
        return c;
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed) return;
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
