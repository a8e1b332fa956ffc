using Microsoft.Data.Sqlite;

namespace EvCharge.Ledger;

/// <summary>How EvCharge's SQLite stores open the file they share (the ledger, the session store).</summary>
internal static class SqliteConnections
{
    /// <summary>
    /// The store's one writer. WAL is a property of the file and sticks; synchronous=FULL because these are payments (a
    /// committed step must survive a power cut, not only a process crash); busy_timeout lets SQLite's own handler wait
    /// in short steps while another writer of the file (Orleans' grain storage, the migrator) holds the lock.
    /// </summary>
    public static Task<SqliteConnection> OpenWriterAsync(string connectionString, CancellationToken ct) =>
        OpenAsync(connectionString, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=30000; PRAGMA foreign_keys=ON;", ct);

    /// <summary>A pooled reader: in WAL mode it never waits for the writer.</summary>
    public static Task<SqliteConnection> OpenReaderAsync(string connectionString, CancellationToken ct) =>
        OpenAsync(connectionString, "PRAGMA busy_timeout=30000;", ct);

    private static async Task<SqliteConnection> OpenAsync(string connectionString, string pragmas, CancellationToken ct)
    {
        var c = new SqliteConnection(connectionString);
        await c.OpenAsync(ct);
        await using var cmd = c.CreateCommand();
        cmd.CommandText = pragmas;
        await cmd.ExecuteNonQueryAsync(ct);
        return c;
    }
}
