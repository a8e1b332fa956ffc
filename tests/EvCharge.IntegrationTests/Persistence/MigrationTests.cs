using System.Data.Common;
using EvCharge.IntegrationTests.Infrastructure;
using EvCharge.Ledger;
using EvCharge.Sessions;
using EvCharge.Silo.Persistence;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace EvCharge.IntegrationTests.Persistence;

/// <summary>Every key some Orleans 10.4.2 ADO.NET provider reads from OrleansQuery (see DbStoredQueries).</summary>
internal static class OrleansQueryContract
{
    public static readonly string[] Keys =
    [
        // clustering
        "GatewaysQueryKey", "MembershipReadRowKey", "MembershipReadAllKey", "InsertMembershipVersionKey",
        "UpdateIAmAlivetimeKey", "InsertMembershipKey", "UpdateMembershipKey", "DeleteMembershipTableEntriesKey",
        "CleanupDefunctSiloEntriesKey", "CleanupDefunctSiloEntryKey",
        // grain storage
        "ReadFromStorageKey", "WriteToStorageKey", "ClearStorageKey", "DeleteStorageKey",
        // reminders
        "ReadReminderRowsKey", "ReadRangeRows1Key", "ReadRangeRows2Key", "ReadReminderRowKey",
        "UpsertReminderRowKey", "DeleteReminderRowKey", "DeleteReminderRowsKey",
    ];

    public static async Task<(HashSet<string> Keys, List<(int Version, string Checksum)> Migrations)> InspectAsync(DbConnection c)
    {
        var keys = new HashSet<string>();
        await using (var cmd = c.CreateCommand())
        {
            cmd.CommandText = "SELECT QueryKey, QueryText FROM OrleansQuery";
            await using var r = await cmd.ExecuteReaderAsync();
            while (await r.ReadAsync()) keys.Add(r.GetString(0));
        }
        var migrations = new List<(int, string)>();
        await using (var cmd = c.CreateCommand())
        {
            cmd.CommandText = "SELECT version, checksum FROM schema_migrations ORDER BY version";
            await using var r = await cmd.ExecuteReaderAsync();
            while (await r.ReadAsync()) migrations.Add((Convert.ToInt32(r.GetValue(0)), r.GetString(1)));
        }
        return (keys, migrations);
    }

    public static void AssertComplete(HashSet<string> keys, List<(int Version, string Checksum)> migrations, string provider)
    {
        foreach (var key in Keys) Assert.Contains(key, keys);
        var scripts = SchemaMigrator.Scripts(provider);
        Assert.Equal(scripts.Select(s => (s.Version, s.Checksum)), migrations);
    }
}

public sealed class SchemaScriptTests
{
    [Theory]
    [InlineData("Postgres")]
    [InlineData("Sqlite")]
    public void Scripts_are_numbered_in_order_and_the_ledger_script_is_the_ledgers_own_ddl(string provider)
    {
        var scripts = SchemaMigrator.Scripts(provider);
        Assert.Equal([1, 2, 3, 4, 5, 6, 7, 8], scripts.Select(s => s.Version));
        Assert.Equal(["orleans_main", "orleans_clustering", "orleans_persistence", "orleans_reminders", "ledger", "session_index", "session_store", "payment_operations"], scripts.Select(s => s.Name));
        var ledgerDdl = provider == "Postgres" ? LedgerSchema.Postgres : LedgerSchema.Sqlite;
        Assert.Equal(ledgerDdl.ReplaceLineEndings("\n").Trim(), scripts.Single(s => s.Name == "ledger").Sql.ReplaceLineEndings("\n").Trim());
        var storeDdl = provider == "Postgres" ? SessionStoreSchema.Postgres : SessionStoreSchema.Sqlite;
        Assert.Equal(storeDdl.ReplaceLineEndings("\n").Trim(), scripts.Single(s => s.Name == "session_store").Sql.ReplaceLineEndings("\n").Trim());
    }

    [Fact]
    public async Task Migrate_command_ignores_other_verbs_and_prints_sql()
    {
        Assert.Null(await MigrateCommand.TryRunAsync([]));
        Assert.Null(await MigrateCommand.TryRunAsync(["serve"]));
        var original = Console.Out;
        var sw = new StringWriter();
        Console.SetOut(sw);
        try { Assert.Equal(0, await MigrateCommand.TryRunAsync(["migrate", "--provider", "Postgres", "--print"])); }
        finally { Console.SetOut(original); }
        Assert.Contains("CREATE TABLE IF NOT EXISTS OrleansQuery", sw.ToString());
        Assert.Contains("schema_migrations", sw.ToString());
        Assert.Equal(2, await MigrateCommand.TryRunAsync(["migrate", "--bogus"]));
    }
}

public sealed class SqliteMigrationTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "evcharge-mig-" + Guid.NewGuid().ToString("N")[..8]);

    private string NewDb(string name)
    {
        Directory.CreateDirectory(_dir);
        return Path.Combine(_dir, name + ".db");
    }

    private static async Task<(HashSet<string>, List<(int, string)>)> InspectAsync(string path)
    {
        await using var c = new SqliteConnection($"Data Source={path}");
        await c.OpenAsync();
        return await OrleansQueryContract.InspectAsync(c);
    }

    [Fact]
    public async Task Migrating_twice_is_a_no_op()
    {
        var db = NewDb("twice");
        await SchemaMigrator.MigrateAsync("Sqlite", db, null, default);
        await SchemaMigrator.MigrateAsync("Sqlite", db, null, default);
        var (keys, migrations) = await InspectAsync(db);
        OrleansQueryContract.AssertComplete(keys, migrations, "Sqlite");

        await using var c = new SqliteConnection($"Data Source={db}");
        await c.OpenAsync();
        await using var cmd = c.CreateCommand();
        cmd.CommandText = "PRAGMA journal_mode";
        Assert.Equal("wal", (string?)await cmd.ExecuteScalarAsync());
    }

    [Fact]
    public async Task Concurrent_migrators_on_one_file_all_succeed()
    {
        var db = NewDb("concurrent");
        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() => SchemaMigrator.MigrateAsync("Sqlite", $"Data Source={db}", null, default))));
        var (keys, migrations) = await InspectAsync(db);
        OrleansQueryContract.AssertComplete(keys, migrations, "Sqlite");
    }

    [Fact]
    public async Task The_printed_script_applies_by_hand_and_the_migrator_then_has_nothing_to_do()
    {
        var db = NewDb("byhand");
        await using (var c = new SqliteConnection($"Data Source={db}"))
        {
            await c.OpenAsync();
            await using var cmd = c.CreateCommand();
            cmd.CommandText = SchemaMigrator.PrintableScript("Sqlite");
            await cmd.ExecuteNonQueryAsync();
        }
        await SchemaMigrator.MigrateAsync("Sqlite", db, null, default);
        var (keys, migrations) = await InspectAsync(db);
        OrleansQueryContract.AssertComplete(keys, migrations, "Sqlite");
    }

    [Fact]
    public async Task A_ledger_on_a_migrated_file_works_without_its_own_schema_step()
    {
        var db = NewDb("ledger");
        await SchemaMigrator.MigrateAsync("Sqlite", db, null, default);
        await using var ledger = new SqliteLedger(db);
        Assert.True(await ledger.PostAsync(new("s1:hold", "s1", JournalKind.Hold, [new(Accounts.Hold("s1"), 100), new(Accounts.Wallet("w"), -100)])));
        Assert.True((await ledger.CheckInvariantsAsync()).Ok);
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        try { Directory.Delete(_dir, true); } catch { }
    }
}

[Collection("postgres")]
public sealed class PostgresMigrationTests(PostgresServer server)
{
    private static async Task<(HashSet<string>, List<(int, string)>)> InspectAsync(string cs)
    {
        await using var c = new NpgsqlConnection(cs);
        await c.OpenAsync();
        return await OrleansQueryContract.InspectAsync(c);
    }

    [Fact]
    public async Task Migrating_twice_is_a_no_op()
    {
        var cs = await server.CreateDatabaseAsync("mig_twice");
        await SchemaMigrator.MigrateAsync("Postgres", cs, null, default);
        await SchemaMigrator.MigrateAsync("Postgres", cs, null, default);
        var (keys, migrations) = await InspectAsync(cs);
        OrleansQueryContract.AssertComplete(keys, migrations, "Postgres");
    }

    [Fact]
    public async Task Concurrent_migrators_and_ledgers_on_one_database_all_succeed()
    {
        var cs = await server.CreateDatabaseAsync("mig_concurrent");
        await using var ledger = new PostgresLedger(cs);
        await Task.WhenAll(
            Task.Run(() => SchemaMigrator.MigrateAsync("Postgres", cs, null, default)),
            Task.Run(() => SchemaMigrator.MigrateAsync("Postgres", cs, null, default)),
            Task.Run(() => SchemaMigrator.MigrateAsync("Postgres", cs, null, default)),
            Task.Run(() => ledger.EnsureSchemaAsync()));
        var (keys, migrations) = await InspectAsync(cs);
        OrleansQueryContract.AssertComplete(keys, migrations, "Postgres");
        Assert.True(await ledger.PostAsync(new("s1:hold", "s1", JournalKind.Hold, [new(Accounts.Hold("s1"), 100), new(Accounts.Wallet("w"), -100)])));
    }

    [Fact]
    public async Task The_printed_script_applies_by_hand_and_the_migrator_then_has_nothing_to_do()
    {
        var cs = await server.CreateDatabaseAsync("mig_byhand");
        await using (var c = new NpgsqlConnection(cs))
        {
            await c.OpenAsync();
            await using var cmd = new NpgsqlCommand(SchemaMigrator.PrintableScript("Postgres"), c);
            await cmd.ExecuteNonQueryAsync();
        }
        await SchemaMigrator.MigrateAsync("Postgres", cs, null, default);
        var (keys, migrations) = await InspectAsync(cs);
        OrleansQueryContract.AssertComplete(keys, migrations, "Postgres");
    }
}
