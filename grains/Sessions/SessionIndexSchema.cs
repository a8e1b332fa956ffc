namespace EvCharge.Sessions;

/// <summary>
/// DDL of the operators' session index. Like <c>LedgerSchema</c>, it lives next to the stores so an index can create
/// its own table without the silo (tests, tools); the silo's migration <c>0006_session_index.sql</c> carries the same
/// text, and every statement is idempotent because both paths may run it.
/// </summary>
public static class SessionIndexSchema
{
    public static readonly string Postgres = EvCharge.Ledger.SchemaResource.Load("postgres/0006_session_index.sql");

    public static readonly string Sqlite = EvCharge.Ledger.SchemaResource.Load("sqlite/0006_session_index.sql");
}
