using EvCharge.Infrastructure;
using EvCharge.Ledger;
using Npgsql;

namespace EvCharge.Sessions;

/// <summary>The session index in the cluster profile's PostgreSQL database, shared by every silo.</summary>
public sealed class PostgresSessionIndex : ISessionIndex, ISessionStatistics, IAsyncDisposable
{
    private readonly NpgsqlDataSource _dataSource;
    private readonly bool _ownsDataSource;

    private readonly GroupCommit<SessionSummary, bool> _upserts;

    public PostgresSessionIndex(NpgsqlDataSource dataSource)
    {
        _dataSource = dataSource ?? throw new ArgumentNullException(nameof(dataSource));
        _upserts = new GroupCommit<SessionSummary, bool>(UpsertBatchAsync);
    }

    public PostgresSessionIndex(string connectionString) : this(NpgsqlDataSource.Create(connectionString)) => _ownsDataSource = true;

    public Task EnsureSchemaAsync(CancellationToken ct = default) =>
        LedgerSchema.ApplyPostgresAsync(_dataSource, SessionIndexSchema.Postgres, ct);

    /// <summary>
    /// Every session state change upserts here, so under load the index would cost a commit per transition.
    /// Concurrent upserts share a transaction (group commit); each caller still returns once its row is committed.
    /// </summary>
    public Task UpsertAsync(SessionSummary summary, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(summary);
        return _upserts.WriteAsync(summary, ct);
    }

    private async Task<IReadOnlyList<bool>> UpsertBatchAsync(IReadOnlyList<SessionSummary> batch, CancellationToken ct)
    {
        await using var c = await _dataSource.OpenConnectionAsync(ct);
        await using var tx = batch.Count > 1 ? await c.BeginTransactionAsync(ct) : null;
        var results = new bool[batch.Count];
        for (var i = 0; i < batch.Count; i++)
        {
            await using var cmd = new NpgsqlCommand(SessionIndexSql.Upsert, c, tx);
            SessionIndexSql.AddUpsertParameters(cmd, batch[i], t => t is { } v ? SessionCursor.Truncate(v).UtcDateTime : DBNull.Value);
            // Nullable timestamptz parameters need their type when the value is DBNull.
            foreach (NpgsqlParameter p in cmd.Parameters)
                if (p.ParameterName is "@started_at" or "@stopped_at") p.NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.TimestampTz;
                else if (p.Value is DBNull) p.NpgsqlDbType = p.ParameterName is "@fee" ? NpgsqlTypes.NpgsqlDbType.Bigint : NpgsqlTypes.NpgsqlDbType.Text;
            results[i] = await cmd.ExecuteNonQueryAsync(ct) > 0;
        }
        if (tx is not null) await tx.CommitAsync(ct);
        return results;
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

    public async Task<IReadOnlyDictionary<Charging.SessionState, long>> CountByStateAsync(CancellationToken ct = default)
    {
        await using var cmd = _dataSource.CreateCommand();
        return await SessionStatisticsSql.ReadAsync(cmd, ct);
    }

    public async ValueTask DisposeAsync()
    {
        await _upserts.DisposeAsync();
        if (_ownsDataSource) await _dataSource.DisposeAsync();
    }
}
