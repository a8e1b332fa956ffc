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
}
