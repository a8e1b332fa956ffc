namespace EvCharge.Ledger;

/// <summary>
/// The ledger's DDL. It lives here, next to the stores, so a ledger can create its own tables when it is used
/// without the silo (tests, tools). The silo's migration <c>0005_ledger.sql</c> carries the same text byte for byte
/// (a test compares them), so a database created either way ends up identical. Every statement is idempotent
/// (IF NOT EXISTS / OR REPLACE) because the same DDL may run twice: once from <c>EnsureSchemaAsync</c> and once
/// from the migrator.
/// </summary>
public static class LedgerSchema
{
    /// <summary>
    /// Key of the PostgreSQL transaction-level advisory lock that serialises schema changes. The silo's
    /// migrator takes the same lock, so concurrent silos and ledgers never race on CREATE TABLE.
    /// </summary>
    public const long PostgresSchemaLockKey = 0x45764368_61726765; // "EvCharge"

    public static readonly string Postgres = EvCharge.Ledger.SchemaResource.Load("postgres/0005_ledger.sql");

    public static readonly string Sqlite = EvCharge.Ledger.SchemaResource.Load("sqlite/0005_ledger.sql");

    /// <summary>
    /// Applies DDL under the migrator's advisory lock: CREATE ... IF NOT EXISTS is not safe against a concurrent
    /// CREATE, so the ledger, the session index and the silo's migrator all serialize on the same key.
    /// </summary>
    internal static async Task ApplyPostgresAsync(Npgsql.NpgsqlDataSource dataSource, string ddl, CancellationToken ct)
    {
        await using var c = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        await using (var lockCmd = new Npgsql.NpgsqlCommand("SELECT pg_advisory_xact_lock(@k)", c, tx))
        {
            lockCmd.Parameters.AddWithValue("k", PostgresSchemaLockKey);
            await lockCmd.ExecuteNonQueryAsync(ct);
        }
        await using (var cmd = new Npgsql.NpgsqlCommand(ddl, c, tx))
            await cmd.ExecuteNonQueryAsync(ct);
        await tx.CommitAsync(ct);
    }
}
