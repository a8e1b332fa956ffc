using System.Data.Common;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using EvCharge.Ledger;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace EvCharge.Silo.Persistence;

/// <summary>One versioned script: <c>Sql/{provider}/NNNN_name.sql</c>, embedded in this assembly.</summary>
public sealed record SchemaScript(int Version, string Name, string Sql)
{
    /// <summary>SHA-256 of the script with line endings normalised, so a checkout on Windows has the same sum.</summary>
    public string Checksum { get; } = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Sql.ReplaceLineEndings("\n"))));
}

/// <summary>
/// Applies our schema scripts (Orleans' query registry, clustering, grain storage, reminders, the ledger, the session
/// store) to PostgreSQL or SQLite, then carries over sessions an earlier version kept in grain storage
/// (<see cref="LegacySessionImport"/>). Applied versions are recorded in <c>schema_migrations</c>; only missing versions run,
/// in order, all in one transaction, so a failed migration leaves the database as it was. Several silos may
/// start at once: on PostgreSQL the whole run holds a transaction-level advisory lock (the second silo waits,
/// then sees everything applied); on SQLite the run is a BEGIN IMMEDIATE transaction, which takes the file's
/// write lock up front (the second process waits on busy_timeout).
/// </summary>
public static class SchemaMigrator
{
    private const string ResourcePrefix = "EvCharge.Sql/";

    public static async Task MigrateAsync(string provider, string connectionString, ILogger? logger = null, CancellationToken ct = default)
    {
        var kind = StorageProfile.ParseProvider(provider);
        var scripts = Scripts(kind);
        if (kind == StorageProvider.Postgres) await MigratePostgresAsync(connectionString, scripts, logger, ct);
        else await MigrateSqliteAsync(connectionString, scripts, logger, ct);
    }

    /// <summary>The scripts for a provider ("Postgres" or "Sqlite"), in version order.</summary>
    public static IReadOnlyList<SchemaScript> Scripts(string provider) => Scripts(StorageProfile.ParseProvider(provider));

    public static IReadOnlyList<SchemaScript> Scripts(StorageProvider provider)
    {
        var folder = provider == StorageProvider.Postgres ? "postgres" : "sqlite";
        var asm = typeof(SchemaMigrator).Assembly;
        var list = new List<SchemaScript>();
        foreach (var resource in asm.GetManifestResourceNames())
        {
            var path = resource.Replace('\\', '/');
            if (!path.StartsWith(ResourcePrefix + folder + "/", StringComparison.Ordinal) || !path.EndsWith(".sql", StringComparison.Ordinal)) continue;
            var file = Path.GetFileNameWithoutExtension(path[(ResourcePrefix.Length + folder.Length + 1)..]);
            var underscore = file.IndexOf('_');
            if (underscore <= 0 || !int.TryParse(file[..underscore], out var version))
                throw new InvalidOperationException($"Schema script {path} is not named NNNN_name.sql.");
            using var stream = asm.GetManifestResourceStream(resource)!;
            using var reader = new StreamReader(stream, Encoding.UTF8);
            list.Add(new SchemaScript(version, file[(underscore + 1)..], reader.ReadToEnd()));
        }
        list.Sort((a, b) => a.Version.CompareTo(b.Version));
        for (var i = 1; i < list.Count; i++)
            if (list[i].Version == list[i - 1].Version)
                throw new InvalidOperationException($"Two {folder} schema scripts share version {list[i].Version}.");
        if (list.Count == 0) throw new InvalidOperationException($"No {folder} schema scripts are embedded in {asm.GetName().Name}.");
        return list;
    }

    /// <summary>All scripts for a provider as one text, for operators who apply schema by hand.</summary>
    public static string PrintableScript(string provider)
    {
        var kind = StorageProfile.ParseProvider(provider);
        var sb = new StringBuilder();
        sb.AppendLine($"-- EvCharge schema for {kind}. Apply in one transaction; each step records itself in schema_migrations.");
        sb.AppendLine(kind == StorageProvider.Postgres ? "BEGIN;" : "BEGIN IMMEDIATE;");
        sb.AppendLine(kind == StorageProvider.Postgres ? PostgresMigrationsTable : SqliteMigrationsTable);
        foreach (var s in Scripts(kind))
        {
            sb.AppendLine().AppendLine($"-- ===== {s.Version:D4}_{s.Name}.sql =====");
            sb.AppendLine(s.Sql.TrimEnd());
            var name = s.Name.Replace("'", "''");
            sb.AppendLine(kind == StorageProvider.Postgres
                ? $"INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES ({s.Version}, '{name}', '{s.Checksum}', now()) ON CONFLICT (version) DO NOTHING;"
                : $"INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES ({s.Version}, '{name}', '{s.Checksum}', strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) ON CONFLICT (version) DO NOTHING;");
        }
        sb.AppendLine("COMMIT;");
        return sb.ToString();
    }

    private const string PostgresMigrationsTable = """
        CREATE TABLE IF NOT EXISTS schema_migrations (
            version    integer     NOT NULL PRIMARY KEY,
            name       text        NOT NULL,
            checksum   text        NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now()
        );
        """;

    private const string SqliteMigrationsTable = """
        CREATE TABLE IF NOT EXISTS schema_migrations (
            version    INTEGER NOT NULL PRIMARY KEY,
            name       TEXT    NOT NULL,
            checksum   TEXT    NOT NULL,
            applied_at TEXT    NOT NULL
        );
        """;

    private static async Task MigratePostgresAsync(string connectionString, IReadOnlyList<SchemaScript> scripts, ILogger? logger, CancellationToken ct)
    {
        await using var c = new NpgsqlConnection(connectionString);
        await c.OpenAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        // Same key as PostgresLedger.EnsureSchemaAsync: all schema changes to this database are serialised.
        await using (var lockCmd = new NpgsqlCommand("SELECT pg_advisory_xact_lock(@k)", c, tx))
        {
            lockCmd.Parameters.AddWithValue("k", LedgerSchema.PostgresSchemaLockKey);
            await lockCmd.ExecuteNonQueryAsync(ct);
        }
        await ExecAsync(c, tx, PostgresMigrationsTable, ct);
        var applied = await AppliedAsync(c, tx, ct);
        var ran = 0;
        foreach (var s in scripts)
        {
            if (Check(applied, s, logger)) continue;
            logger?.LogInformation("Applying schema migration {Version:D4}_{Name} (PostgreSQL)", s.Version, s.Name);
            await ExecAsync(c, tx, s.Sql, ct);
            await using var record = new NpgsqlCommand(
                "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (@v, @n, @c, now())", c, tx);
            record.Parameters.AddWithValue("v", s.Version);
            record.Parameters.AddWithValue("n", s.Name);
            record.Parameters.AddWithValue("c", s.Checksum);
            await record.ExecuteNonQueryAsync(ct);
            ran++;
        }
        await LegacySessionImport.RunAsync(c, tx, postgres: true, logger, ct);
        await tx.CommitAsync(ct);
        logger?.LogInformation("PostgreSQL schema is at version {Version} ({Applied} migration(s) applied now)", scripts[^1].Version, ran);
    }

    private static async Task MigrateSqliteAsync(string connectionString, IReadOnlyList<SchemaScript> scripts, ILogger? logger, CancellationToken ct)
    {
        var cs = SqliteConnectionString(connectionString);
        await using var c = new SqliteConnection(cs);
        await c.OpenAsync(ct);
        // WAL is a property of the file and sticks: every later connection (Orleans' providers, the ledger)
        // gets concurrent readers alongside the one writer. It cannot be switched inside a transaction.
        await ExecAsync(c, null, "PRAGMA journal_mode=WAL; PRAGMA busy_timeout=30000;", ct);
        await using var tx = c.BeginTransaction(deferred: false); // BEGIN IMMEDIATE: take the write lock now
        await ExecAsync(c, tx, SqliteMigrationsTable, ct);
        var applied = await AppliedAsync(c, tx, ct);
        var ran = 0;
        foreach (var s in scripts)
        {
            if (Check(applied, s, logger)) continue;
            logger?.LogInformation("Applying schema migration {Version:D4}_{Name} (SQLite)", s.Version, s.Name);
            await ExecAsync(c, tx, s.Sql, ct);
            await using var record = c.CreateCommand();
            record.Transaction = tx;
            record.CommandText = "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES ($v, $n, $c, $at)";
            record.Parameters.AddWithValue("$v", s.Version);
            record.Parameters.AddWithValue("$n", s.Name);
            record.Parameters.AddWithValue("$c", s.Checksum);
            record.Parameters.AddWithValue("$at", DateTimeOffset.UtcNow.ToString("O"));
            await record.ExecuteNonQueryAsync(ct);
            ran++;
        }
        await LegacySessionImport.RunAsync(c, tx, postgres: false, logger, ct);
        await tx.CommitAsync(ct);
        logger?.LogInformation("SQLite schema is at version {Version} ({Applied} migration(s) applied now)", scripts[^1].Version, ran);
    }

    /// <summary>True if already applied. A changed checksum means someone edited a shipped script: warn, never re-run.</summary>
    private static bool Check(Dictionary<int, string> applied, SchemaScript s, ILogger? logger)
    {
        if (!applied.TryGetValue(s.Version, out var checksum)) return false;
        if (!string.Equals(checksum, s.Checksum, StringComparison.OrdinalIgnoreCase))
            logger?.LogWarning("Schema migration {Version:D4}_{Name} was applied with checksum {Applied} but the shipped script has {Shipped}; " +
                               "shipped scripts must not change, add a new migration instead", s.Version, s.Name, checksum, s.Checksum);
        return true;
    }

    private static async Task<Dictionary<int, string>> AppliedAsync(DbConnection c, DbTransaction tx, CancellationToken ct)
    {
        await using var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = "SELECT version, checksum FROM schema_migrations";
        var applied = new Dictionary<int, string>();
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct)) applied[Convert.ToInt32(r.GetValue(0))] = r.GetString(1);
        return applied;
    }

    private static async Task ExecAsync(DbConnection c, DbTransaction? tx, string sql, CancellationToken ct)
    {
        await using var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = sql;
        cmd.CommandTimeout = 300;
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Accepts a file path or a Microsoft.Data.Sqlite connection string; creates the file's directory.</summary>
    public static string SqliteConnectionString(string pathOrConnectionString)
    {
        var b = pathOrConnectionString.Contains('=')
            ? new SqliteConnectionStringBuilder(pathOrConnectionString)
            : new SqliteConnectionStringBuilder { DataSource = pathOrConnectionString };
        if (!string.IsNullOrEmpty(b.DataSource) && b.DataSource != ":memory:")
        {
            var dir = Path.GetDirectoryName(Path.GetFullPath(b.DataSource));
            if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
        }
        if (b.DefaultTimeout < 30) b.DefaultTimeout = 30; // Microsoft.Data.Sqlite retries SQLITE_BUSY for this long
        return b.ToString();
    }
}
