using System.Data.Common;
using System.Security.Cryptography;
using System.Text;
using EvCharge.Ledger;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace EvCharge.Payments;

/// <summary>One money-moving provider call as the adapter recorded it.</summary>
public sealed record PaymentOperation(
    string Provider, string IdempotencyKey, string Operation, string? OrderId, string? AuthorizationId,
    string RequestHash, string State, string? Response, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt)
{
    public const string Pending = "pending";
    public const string Done = "done";
    public bool IsDone => State == Done;
}

/// <summary>What <see cref="IPaymentOperationJournal.BeginAsync"/> found under the key.</summary>
public enum JournalBegin
{
    /// <summary>No call was made under this key: the caller makes it now (the row is written first).</summary>
    Started,
    /// <summary>A call under this key finished: its stored answer is the answer (replay).</summary>
    Completed,
    /// <summary>A call under this key started and its outcome never arrived: resolve at the provider before anything else.</summary>
    InDoubt,
    /// <summary>The key was used for a different request: refuse, as the sandbox and Stripe do.</summary>
    KeyReused,
}

/// <summary>
/// The adapters' durable journal of provider calls (table <c>payment_operations</c>, migration 0008). For a provider
/// without idempotency keys (KakaoPay) it is the deduplication: the row is written before the request leaves, so a
/// retry after a crash or a lost answer sees <see cref="JournalBegin.InDoubt"/> and looks the outcome up instead of
/// paying twice. For deposit providers it also records what a capture meant (a capture of the whole deposit sends
/// nothing to Toss or KakaoPay, so only this row says the deposit was settled).
/// </summary>
public interface IPaymentOperationJournal
{
    Task<(JournalBegin Outcome, PaymentOperation Row)> BeginAsync(
        string provider, string key, string operation, string? orderId, string? authorizationId, string requestHash, CancellationToken ct = default);

    /// <summary>Marks the call done with its answer (and the authorization it created, when it created one).</summary>
    Task CompleteAsync(string provider, string key, string? authorizationId, string response, CancellationToken ct = default);

    /// <summary>The call was refused before anything moved: forget it so the same key may be sent again, fixed.</summary>
    Task ForgetAsync(string provider, string key, CancellationToken ct = default);

    Task<PaymentOperation?> GetAsync(string provider, string key, CancellationToken ct = default);

    /// <summary>Rows of one provider by order id, authorization id and/or operation (any may be null = any).</summary>
    Task<IReadOnlyList<PaymentOperation>> FindAsync(
        string provider, string? orderId = null, string? authorizationId = null, string? operation = null, CancellationToken ct = default);
}

public static class PaymentRequestHash
{
    /// <summary>SHA-256 of the canonical request our adapter sends, hex: the same key with another body is a reuse.</summary>
    public static string Of(string canonical) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(canonical)));
}

/// <summary>
/// The journal on SQLite (embedded profile, the ledger's database file) or PostgreSQL (cluster profile). The SQL is
/// the same text for both: <c>INSERT … ON CONFLICT DO NOTHING</c> makes the first writer of a key win across silos.
/// </summary>
public sealed class SqlPaymentOperationJournal : IPaymentOperationJournal, IAsyncDisposable
{
    private readonly Func<DbConnection> _connect;
    private readonly bool _postgres;
    private readonly NpgsqlDataSource? _dataSource;
    private readonly TimeProvider _time;

    private SqlPaymentOperationJournal(Func<DbConnection> connect, bool postgres, NpgsqlDataSource? dataSource, TimeProvider time)
    {
        _connect = connect;
        _postgres = postgres;
        _dataSource = dataSource;
        _time = time;
    }

    public static SqlPaymentOperationJournal Create(LedgerOptions options, TimeProvider? time = null)
    {
        time ??= TimeProvider.System;
        if (options.IsPostgres)
        {
            var ds = NpgsqlDataSource.Create(options.ConnectionString ?? throw new ArgumentException("Postgres needs a connection string"));
            return new SqlPaymentOperationJournal(ds.CreateConnection, true, ds, time);
        }
        var cs = SqliteLedger.ToConnectionString(string.IsNullOrWhiteSpace(options.ConnectionString) ? Path.Combine("data", "evcharge.db") : options.ConnectionString!);
        return new SqlPaymentOperationJournal(() => new SqliteConnection(cs), false, null, time);
    }

    public async Task EnsureSchemaAsync(CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        await using var cmd = c.CreateCommand();
        cmd.CommandText = SchemaResource.Load(_postgres ? "postgres/0008_payment_operations.sql" : "sqlite/0008_payment_operations.sql");
        await cmd.ExecuteNonQueryAsync(ct);
    }

    public async Task<(JournalBegin Outcome, PaymentOperation Row)> BeginAsync(
        string provider, string key, string operation, string? orderId, string? authorizationId, string requestHash, CancellationToken ct = default)
    {
        var now = Micros(_time.GetUtcNow());
        await using var c = await OpenAsync(ct);
        await using (var insert = c.CreateCommand())
        {
            insert.CommandText = """
                INSERT INTO payment_operations (provider, idempotency_key, operation, order_id, authorization_id, request_hash, state, response, created_at, updated_at)
                VALUES (@provider, @key, @operation, @order, @authorization, @hash, 'pending', NULL, @now, @now)
                ON CONFLICT (provider, idempotency_key) DO NOTHING
                """;
            Add(insert, "provider", provider); Add(insert, "key", key); Add(insert, "operation", operation);
            Add(insert, "order", orderId); Add(insert, "authorization", authorizationId); Add(insert, "hash", requestHash); Add(insert, "now", now);
            var inserted = await insert.ExecuteNonQueryAsync(ct);
            if (inserted == 1)
                return (JournalBegin.Started, new PaymentOperation(provider, key, operation, orderId, authorizationId, requestHash,
                    PaymentOperation.Pending, null, FromMicros(now), FromMicros(now)));
        }
        var row = await GetAsync(c, provider, key, ct) ?? throw new InvalidOperationException($"payment operation {key} vanished");
        if (row.RequestHash != requestHash || row.Operation != operation) return (JournalBegin.KeyReused, row);
        return (row.IsDone ? JournalBegin.Completed : JournalBegin.InDoubt, row);
    }

    public async Task CompleteAsync(string provider, string key, string? authorizationId, string response, CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        await using var cmd = c.CreateCommand();
        cmd.CommandText = """
            UPDATE payment_operations SET state = 'done', response = @response,
                   authorization_id = COALESCE(@authorization, authorization_id), updated_at = @now
            WHERE provider = @provider AND idempotency_key = @key
            """;
        Add(cmd, "response", response); Add(cmd, "authorization", authorizationId); Add(cmd, "now", Micros(_time.GetUtcNow()));
        Add(cmd, "provider", provider); Add(cmd, "key", key);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    public async Task ForgetAsync(string provider, string key, CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        await using var cmd = c.CreateCommand();
        cmd.CommandText = "DELETE FROM payment_operations WHERE provider = @provider AND idempotency_key = @key AND state = 'pending'";
        Add(cmd, "provider", provider); Add(cmd, "key", key);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    public async Task<PaymentOperation?> GetAsync(string provider, string key, CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        return await GetAsync(c, provider, key, ct);
    }

    public async Task<IReadOnlyList<PaymentOperation>> FindAsync(
        string provider, string? orderId = null, string? authorizationId = null, string? operation = null, CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        await using var cmd = c.CreateCommand();
        cmd.CommandText = $"""
            SELECT {Columns} FROM payment_operations
            WHERE provider = @provider
              AND (@order IS NULL OR order_id = @order)
              AND (@authorization IS NULL OR authorization_id = @authorization)
              AND (@operation IS NULL OR operation = @operation)
            ORDER BY created_at, idempotency_key
            """;
        Add(cmd, "provider", provider); Add(cmd, "order", orderId); Add(cmd, "authorization", authorizationId); Add(cmd, "operation", operation);
        var rows = new List<PaymentOperation>();
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct)) rows.Add(Read(r));
        return rows;
    }

    private const string Columns = "provider, idempotency_key, operation, order_id, authorization_id, request_hash, state, response, created_at, updated_at";

    private static async Task<PaymentOperation?> GetAsync(DbConnection c, string provider, string key, CancellationToken ct)
    {
        await using var cmd = c.CreateCommand();
        cmd.CommandText = $"SELECT {Columns} FROM payment_operations WHERE provider = @provider AND idempotency_key = @key";
        Add(cmd, "provider", provider); Add(cmd, "key", key);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        return await r.ReadAsync(ct) ? Read(r) : null;
    }

    private static PaymentOperation Read(DbDataReader r) => new(
        r.GetString(0), r.GetString(1), r.GetString(2), r.IsDBNull(3) ? null : r.GetString(3), r.IsDBNull(4) ? null : r.GetString(4),
        r.GetString(5), r.GetString(6), r.IsDBNull(7) ? null : r.GetString(7), FromMicros(r.GetInt64(8)), FromMicros(r.GetInt64(9)));

    private async Task<DbConnection> OpenAsync(CancellationToken ct)
    {
        var c = _connect();
        await c.OpenAsync(ct);
        return c;
    }

    private static void Add(DbCommand cmd, string name, object? value)
    {
        var p = cmd.CreateParameter();
        p.ParameterName = name;
        p.Value = value ?? DBNull.Value;
        // An untyped NULL compared with "IS NULL" needs a type on PostgreSQL.
        if (value is null) p.DbType = System.Data.DbType.String;
        cmd.Parameters.Add(p);
    }

    private static long Micros(DateTimeOffset t) => (t.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10;
    private static DateTimeOffset FromMicros(long us) => DateTimeOffset.UnixEpoch.AddTicks(us * 10);

    public async ValueTask DisposeAsync()
    {
        if (_dataSource is not null) await _dataSource.DisposeAsync();
    }
}
