using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using EvCharge.IntegrationTests.Infrastructure;
using EvCharge.SocialSandbox;
using EvCharge.Grains;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;
using Npgsql;
using static EvCharge.IntegrationTests.Bridge.Frames;
using static EvCharge.IntegrationTests.Durability.DurabilityKit;

namespace EvCharge.IntegrationTests.Durability;

/// <summary>
/// Issue 12's upgrade: databases written by the silo before the session store (Fixtures/upgrade-v1: a settled charge, a
/// charge in flight with meter values, an authorization never started, each with the wallet provider's own data file),
/// carried over by <c>silo migrate</c> as an operator runs it. Then the charger of the charge in flight sends its
/// StopTransaction and the session settles once, the stale authorization is voided by the sweeper, the settled one is
/// still there with its receipt, and the ledger balances.
/// </summary>
[Collection("postgres")]
public sealed class UpgradeTests(PostgresServer postgres) : IAsyncLifetime
{
    private static readonly string Fixtures = Path.Combine(AppContext.BaseDirectory, "Fixtures", "upgrade-v1");
    private readonly string _dir = Directory.CreateTempSubdirectory("evc-upgrade-").FullName;

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync()
    {
        SqliteConnection.ClearAllPools();
        try { Directory.Delete(_dir, true); } catch (IOException) { }
        return Task.CompletedTask;
    }

    [Fact]
    public async Task A_sqlite_database_written_before_the_session_store_is_carried_over_and_its_charge_in_flight_settles()
    {
        var data = Path.Combine(_dir, "sqlite-data");
        Directory.CreateDirectory(data);
        File.Copy(Path.Combine(Fixtures, "sqlite", "evcharge.db"), Path.Combine(data, "evcharge.db"));
        await using (var c = new SqliteConnection($"Data Source={Path.Combine(data, "evcharge.db")};Pooling=false"))
            await MoveFixtureToNowAsync(c, Path.Combine(Fixtures, "sqlite", "sandbox.jsonl"));
        var migrated = await MigrateAsync("Sqlite", Path.Combine(data, "evcharge.db"));
        Assert.Contains("Carried 3 session(s)", migrated);
        Assert.Contains("removed 2 per-session reminder(s)", migrated);
        Assert.DoesNotContain("Carried", await MigrateAsync("Sqlite", Path.Combine(data, "evcharge.db"))); // a second run has nothing to carry
        await SettleAfterUpgradeAsync("sqlite", Sqlite(data), Path.Combine(Fixtures, "sqlite", "fixture.json"));
    }

    [Fact]
    public async Task A_postgres_database_written_before_the_session_store_is_carried_over_and_its_charge_in_flight_settles()
    {
        var cs = await postgres.CreateDatabaseAsync("upgrade");
        await RestoreDumpAsync(cs, Path.Combine(Fixtures, "postgres", "postgres.sql"));
        await using (var c = new NpgsqlConnection(cs))
            await MoveFixtureToNowAsync(c, Path.Combine(Fixtures, "postgres", "sandbox.jsonl"));
        var migrated = await MigrateAsync("Postgres", cs);
        Assert.Contains("Carried 3 session(s)", migrated);
        await SettleAfterUpgradeAsync("pg", Postgres(cs), Path.Combine(Fixtures, "postgres", "fixture.json"));
    }

    private async Task SettleAfterUpgradeAsync(string name, Dictionary<string, string> settings, string fixtureFile)
    {
        using var fixture = JsonDocument.Parse(await File.ReadAllTextAsync(fixtureFile));
        string Session(string which) => fixture.RootElement.GetProperty(which).GetProperty("sessionId").GetString()!;
        await using var sandbox = await SocialSandboxHost.StartAsync(new SandboxOptions { DataFile = Path.Combine(_dir, "sandbox.jsonl") });
        var charging = sandbox.Store.FindAuthorizations(Session("charging"), null).Single();
        Assert.Equal(AuthorizationStatus.Authorized, charging.Status); // the hold placed before the upgrade
        Assert.Equal(AuthorizationStatus.Authorized, sandbox.Store.FindAuthorizations(Session("authorized"), null).Single().Status);

        var ports = SiloPorts.Allocate();
        await using var silo = await SiloProcess.StartAsync($"upgrade-{name}", ports, settings.ExternalSandbox(sandbox.BaseAddress).With(new Dictionary<string, string>
        {
            // The fixture's authorization is two minutes old: past this start timeout. The charge in flight keeps the
            // default stop timeout (2 h), so only its charger's stop can end it.
            ["EvCharge:StartTimeout"] = "00:01:00",
            ["EvCharge:WatchdogPeriod"] = "00:00:01",
            ["Silo:Reminders:MinimumReminderPeriod"] = "00:00:01",
        }), Path.Combine(_dir, name));

        // The settled charge is listed and read as before.
        var settled = await SessionAsync(silo.Api, Session("settled"));
        Assert.Equal("Settled", settled.GetProperty("state").GetString());
        Assert.Equal(3_704, settled.GetProperty("captured").GetInt64());
        Assert.Equal(3_704, settled.GetProperty("receipt").GetProperty("total").GetInt64());
        var list = await silo.Api.GetFromJsonAsync<JsonElement>("api/v1/sessions?cpoId=cpo-upgrade");
        Assert.Equal(3, list.GetProperty("items").GetArrayLength());

        // The charge in flight: its charger comes back with the stop it could not send before the upgrade.
        await using (var charger = await DurableCharger.ConnectAsync(ports.Mqtt, "UPG-CHARGING", TimeSpan.FromSeconds(20)))
        {
            var stop = Result(await charger.CallAsync("StopTransaction", Stop(1, Session("charging"), 13_345, 40), TimeSpan.FromSeconds(60)));
            Assert.Equal("Accepted", stop.GetProperty("idTagInfo").GetProperty("status").GetString());
        }
        var session = await WaitForSessionAsync(silo.Api, Session("charging"), "Settled", TimeSpan.FromSeconds(60));
        Assert.True(session.GetProperty("state").GetString() == "Settled", $"not settled after the upgrade: {session}\n{silo.Tail()}");
        Assert.Equal(3_704, session.GetProperty("captured").GetInt64()); // 12,345 Wh from the meter start before the upgrade
        Assert.Equal(2, session.GetProperty("meterTimeline").GetArrayLength()); // both samples from before the upgrade
        AssertCapturedOnce(sandbox, Session("charging"), 3_704);

        // The authorization that was never started is long past its start timeout: the first sweeps void it.
        var stale = await WaitForSessionAsync(silo.Api, Session("authorized"), "Voided", TimeSpan.FromSeconds(60));
        Assert.Equal("Voided", stale.GetProperty("state").GetString());
        Assert.Equal(AuthorizationStatus.Voided, sandbox.Store.FindAuthorizations(Session("authorized"), null).Single().Status);
        await AssertLedgerBalancedAsync(silo.Api);
    }

    /// <summary>
    /// The fixture was written on one day; the test runs on another. Its server-side times (the sessions' creation,
    /// last activity and authorization, the provider's holds and their expiry) move together so the fixture's last step
    /// happened two minutes ago, in the format the earlier version wrote (Orleans' serializer of the same record type).
    /// The charger's own timestamps (meter values, start) stay as the charger sent them.
    /// </summary>
    private async Task MoveFixtureToNowAsync(System.Data.Common.DbConnection c, string sandboxFixture)
    {
        var serializer = new ServiceCollection().AddSerializer(b => b.AddAssembly(typeof(SessionRecord).Assembly)).BuildServiceProvider()
            .GetRequiredService<Serializer<SessionRecord>>();
        await c.OpenAsync();
        var sessions = new List<(string Id, SessionRecord Record)>();
        await using (var select = c.CreateCommand())
        {
            select.CommandText = "SELECT GrainIdExtensionString, PayloadBinary FROM OrleansStorage WHERE GrainTypeString = 'session'";
            await using var r = await select.ExecuteReaderAsync();
            while (await r.ReadAsync()) sessions.Add((r.GetString(0), serializer.Deserialize((byte[])r.GetValue(1))!));
        }
        var shift = DateTimeOffset.UtcNow.AddMinutes(-2) - sessions.Max(x => x.Record.LastActivity);
        DateTimeOffset? Move(DateTimeOffset? t) => t + shift;
        foreach (var (id, record) in sessions)
        {
            var moved = record with
            {
                CreatedAt = record.CreatedAt + shift, LastActivity = record.LastActivity + shift, AuthorizedAt = Move(record.AuthorizedAt),
                HoldExpiresAt = Move(record.HoldExpiresAt), NextAttemptAt = Move(record.NextAttemptAt),
            };
            await using var update = c.CreateCommand();
            update.CommandText = "UPDATE OrleansStorage SET PayloadBinary = @p WHERE GrainTypeString = 'session' AND GrainIdExtensionString = @id";
            var p = update.CreateParameter(); p.ParameterName = "@p"; p.Value = serializer.SerializeToArray(moved); update.Parameters.Add(p);
            var i = update.CreateParameter(); i.ParameterName = "@id"; i.Value = id; update.Parameters.Add(i);
            Assert.Equal(1, await update.ExecuteNonQueryAsync());
        }
        var lines = (await File.ReadAllLinesAsync(sandboxFixture)).Select(line =>
        {
            var node = System.Text.Json.Nodes.JsonNode.Parse(line)!;
            if (node["v"] is System.Text.Json.Nodes.JsonObject v)
                foreach (var field in new[] { "createdAt", "expiresAt", "usedAt", "resolvedAt" })
                    if (v[field]?.GetValue<string>() is { } text && DateTimeOffset.TryParse(text, out var t))
                        v[field] = (t + shift).ToString("O");
            return node.ToJsonString();
        });
        await File.WriteAllLinesAsync(Path.Combine(_dir, "sandbox.jsonl"), lines);
    }

    private static async Task<string> MigrateAsync(string provider, string connection)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { SiloProcess.SiloDll, "migrate", "--provider", provider, "--connection", connection }) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEndAsync();
        var error = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(120));
        Assert.True(p.ExitCode == 0, $"migrate exited {p.ExitCode}: {await output}{await error}");
        return await output + await error;
    }

    private static async Task RestoreDumpAsync(string connectionString, string dump)
    {
        var b = new NpgsqlConnectionStringBuilder(connectionString);
        var psi = new ProcessStartInfo("psql") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "-h", b.Host!, "-p", b.Port.ToString(), "-U", b.Username!, "-d", b.Database!, "-v", "ON_ERROR_STOP=1", "-q", "-f", dump }) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var error = p.StandardError.ReadToEndAsync();
        await p.StandardOutput.ReadToEndAsync();
        await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        Assert.True(p.ExitCode == 0, $"psql could not restore {dump}: {await error}");
    }
}
