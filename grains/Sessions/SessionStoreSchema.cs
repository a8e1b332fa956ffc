namespace EvCharge.Sessions;

/// <summary>
/// DDL of the session store. Like <c>LedgerSchema</c>, it lives next to the stores so a store can create its own tables
/// without the silo (tests, tools); the silo's migration <c>0007_session_store.sql</c> is the same text, and every
/// statement is idempotent because both paths may run it.
/// </summary>
public static class SessionStoreSchema
{
    public static readonly string Postgres = EvCharge.Ledger.SchemaResource.Load("postgres/0007_session_store.sql");

    public static readonly string Sqlite = EvCharge.Ledger.SchemaResource.Load("sqlite/0007_session_store.sql");
}
