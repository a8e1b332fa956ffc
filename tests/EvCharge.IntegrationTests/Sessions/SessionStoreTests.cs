using System.Data.Common;
using System.Diagnostics;
using EvCharge.Charging;
using EvCharge.Domain;
using EvCharge.Grains;
using EvCharge.IntegrationTests.Infrastructure;
using EvCharge.Ledger;
using EvCharge.Sessions;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Orleans.Serialization;

namespace EvCharge.IntegrationTests.Sessions;

/// <summary>
/// The session store's group commit on real PostgreSQL and SQLite: steps waiting together share one transaction (and,
/// on PostgreSQL, three statements however many they are), a step the database refuses fails alone, and a writer that
/// dies in the middle of a batch leaves every acknowledged step durable and no step half-written.
/// </summary>
[Collection("postgres")]
public sealed class SessionStoreTests(PostgresServer postgres) : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("evc-store-").FullName;
    private static readonly Serializer<SessionRecord> Serializer = new ServiceCollection()
        .AddSerializer(b => b.AddAssembly(typeof(SessionRecord).Assembly)).BuildServiceProvider().GetRequiredService<Serializer<SessionRecord>>();
    private static readonly SessionRules Rules = SessionRules.From(new EvChargeOptions());
    private static readonly DateTimeOffset T0 = new(2026, 11, 29, 1, 0, 0, TimeSpan.Zero);

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync()
    {
        SqliteConnection.ClearAllPools();
        try { Directory.Delete(_dir, true); } catch (IOException) { }
        return Task.CompletedTask;
    }

    /// <summary>A store and a way to hold its writer up: a lock the store's next transaction has to wait for.</summary>
    private sealed record Db(ISessionStore Store, IAsyncDisposable Owner, Func<Task<IAsyncDisposable>> BlockWriter, Func<DbConnection> Open, bool Postgres);

    private async Task<Db> OpenAsync(string provider)
    {
        if (provider == "postgres")
        {
            var cs = await postgres.CreateDatabaseAsync("store");
            var store = new PostgresSessionStore(NpgsqlDataSource.Create(cs), writers: 1);
            await store.EnsureSchemaAsync();
            return new Db(store, store, async () =>
            {
                // An uncommitted row for the session the store writes next: its insert waits on the unique key.
                var c = new NpgsqlConnection(cs);
                await c.OpenAsync();
                var tx = await c.BeginTransactionAsync();
                await using var cmd = new NpgsqlCommand("INSERT INTO sessions (session_id, version, state, connector_id, hold_amount, energy_wh, captured, refunded, debt, seamless, fee_mismatch, created_at, updated_at, live, bucket, body) VALUES ('BLOCKER', 9, 'Created', 0, 0, 0, 0, 0, 0, false, false, now(), now(), false, 0, '\\x00')", c, tx);
                await cmd.ExecuteNonQueryAsync();
                return new Release(async () => { await tx.RollbackAsync(); await c.DisposeAsync(); });
            }, () => new NpgsqlConnection(cs), true);
        }
        var path = Path.Combine(_dir, $"store-{Guid.NewGuid():N}.db");
        var sqlite = new SqliteSessionStore(path);
        await sqlite.EnsureSchemaAsync();
        return new Db(sqlite, sqlite, async () =>
        {
            var c = new SqliteConnection($"Data Source={path}");
            await c.OpenAsync();
            var tx = c.BeginTransaction(deferred: false); // holds the file's write lock
            return new Release(async () => { await tx.RollbackAsync(); await c.DisposeAsync(); });
        }, () => new SqliteConnection($"Data Source={path}"), false);
    }

    private sealed class Release(Func<Task> release) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync() => await release();
    }

    /// <summary>A realistic step: the session at <paramref name="version"/> with the meter rows and journals that step writes.</summary>
    private static SessionStep Step(string sessionId, long version, string wallet, bool withMoney = true, bool live = false)
    {
        var record = new SessionRecord
        {
            State = live ? SessionState.Authorized : SessionState.Charging, WalletKey = wallet, AuthorizationId = "auth-" + sessionId, Authorized = 30_000,
            Start = new SessionStart("CP-STORE", 1, "cpo-store", Tariff.Flat("std", 300), 30_000, new Commission(1_000, 0), "cpo-store-settlement",
                "platform-operator", new PaymentPresentation("sandbox", "code", null), sessionId),
            CreatedAt = T0, LastActivity = T0,
        };
        var samples = withMoney ? new[] { new MeterSample(T0.AddMinutes(1), 1_000), new MeterSample(T0.AddMinutes(2), 2_000) } : [];
        var journals = withMoney ? new[] { Journals.Hold(sessionId, wallet, 30_000, "auth-" + sessionId) } : [];
        return new SessionStep(SessionProjection.Head(sessionId, version, record, T0, Rules), Serializer.SerializeToArray(record), samples, journals);
    }

    [Theory]
    [InlineData("postgres")]
    [InlineData("sqlite")]
    public async Task Steps_waiting_together_commit_in_one_transaction(string provider)
    {
        var db = await OpenAsync(provider);
        await using var _ = db.Owner;
        Task first;
        var rest = new List<Task>();
        await using (await db.BlockWriter())
        {
            first = db.Store.CommitAsync(Step("BLOCKER", 1, "sandbox:w-blocker", withMoney: false));
            await Task.Delay(300); // the writer has taken the first step and waits on the lock
            for (var i = 0; i < 100; i++) rest.Add(db.Store.CommitAsync(Step($"S{i:D3}", 1, $"sandbox:w{i}", withMoney: i % 2 == 0)));
            await Task.Delay(300);
            Assert.False(first.IsCompleted); // nothing is acknowledged before it is committed
            Assert.DoesNotContain(rest, t => t.IsCompleted);
        }
        await first;
        await Task.WhenAll(rest);

        Assert.Equal(2, db.Store.Counters.Commits); // the blocked step, then the hundred that waited meanwhile
        Assert.Equal(101, db.Store.Counters.Steps);
        if (db.Postgres) Assert.Equal(1 + 3, db.Store.Counters.Statements); // heads; then heads, meters, journals
        Assert.Equal(101, await CountAsync(db, "SELECT count(*) FROM sessions"));
        Assert.Equal(100, await CountAsync(db, "SELECT count(*) FROM session_meter"));
        Assert.Equal(50, await CountAsync(db, "SELECT count(*) FROM ledger_journals"));
        Assert.Equal(100, await CountAsync(db, "SELECT count(*) FROM ledger_lines"));
    }

    [Theory]
    [InlineData("postgres")]
    [InlineData("sqlite")]
    public async Task A_step_the_database_refuses_fails_alone(string provider)
    {
        var db = await OpenAsync(provider);
        await using var _ = db.Owner;
        await db.Store.CommitAsync(Step("LIVE-1", 1, "sandbox:w-shared", live: true)); // live on the shared wallet
        var good = new List<Task>();
        Task stale, secondLive;
        await using (await db.BlockWriter())
        {
            var blocked = db.Store.CommitAsync(Step("BLOCKER", 1, "sandbox:w-blocker", withMoney: false));
            await Task.Delay(300);
            for (var i = 0; i < 20; i++) good.Add(db.Store.CommitAsync(Step($"G{i:D2}", 1, $"sandbox:g{i}")));
            stale = db.Store.CommitAsync(Step("STALE", 3, "sandbox:w-stale")); // version 3 of a session never written
            secondLive = db.Store.CommitAsync(Step("LIVE-2", 1, "sandbox:w-shared", live: true)); // a second live session on the wallet
            for (var i = 20; i < 40; i++) good.Add(db.Store.CommitAsync(Step($"G{i:D2}", 1, $"sandbox:g{i}")));
            good.Add(blocked);
        }
        await Task.WhenAll(good);
        await Assert.ThrowsAsync<SessionVersionConflictException>(() => stale);
        await Assert.ThrowsAsync<LiveWalletConflictException>(() => secondLive);

        Assert.Equal(42, await CountAsync(db, "SELECT count(*) FROM sessions")); // LIVE-1, BLOCKER and 40 good ones
        Assert.Equal(0, await CountAsync(db, "SELECT count(*) FROM sessions WHERE session_id IN ('STALE', 'LIVE-2')"));
        Assert.Equal(0, await CountAsync(db, "SELECT count(*) FROM session_meter WHERE session_id IN ('STALE', 'LIVE-2')"));
        Assert.Equal(0, await CountAsync(db, "SELECT count(*) FROM ledger_journals WHERE session_id IN ('STALE', 'LIVE-2')"));
        Assert.Equal(41, await CountAsync(db, "SELECT count(*) FROM ledger_journals")); // LIVE-1's hold and the 40 good ones'
        Assert.Equal("LIVE-1", await db.Store.LiveOnWalletAsync("sandbox:w-shared"));
    }

    [Theory]
    [InlineData("postgres")]
    [InlineData("sqlite")]
    public async Task Reads_derive_live_sessions_transactions_and_due_times_from_the_rows(string provider)
    {
        var db = await OpenAsync(provider);
        await using var _ = db.Owner;
        var live = Step("R-LIVE", 1, "sandbox:r1", live: true);
        await db.Store.CommitAsync(live);
        var charging = Step("R-CHARGING", 1, "sandbox:r2");
        charging = charging with { Head = charging.Head with { TransactionId = 42, Live = true } };
        await db.Store.CommitAsync(charging);

        var onCharger = await db.Store.LiveOnChargerAsync("CP-STORE");
        Assert.Equal(["R-CHARGING", "R-LIVE"], onCharger.Select(s => s.SessionId).Order());
        Assert.Equal("R-CHARGING", await db.Store.FindByTransactionAsync("CP-STORE", 42));
        Assert.Null(await db.Store.FindByTransactionAsync("CP-OTHER", 42));
        Assert.Equal(["R-CHARGING", "R-LIVE"], (await db.Store.DueAsync(T0.AddDays(1), 0, 1, 10)).Order());
        Assert.Empty(await db.Store.DueAsync(T0.AddMinutes(-1), 0, 1, 10));
        var loaded = await db.Store.LoadAsync("R-CHARGING");
        Assert.Equal(1, loaded!.Version);
        Assert.Equal([1_000L, 2_000L], loaded.Samples.Select(s => s.EnergyWh));
        Assert.Equal(SessionState.Charging, Serializer.Deserialize(loaded.Body)!.State);
        Assert.Null(await db.Store.LoadAsync("R-NONE"));
    }

    [Theory]
    [InlineData("postgres")]
    [InlineData("sqlite")]
    public async Task Activity_is_aggregated_by_korean_hour_and_day_counting_started_charges_and_net_revenue(string provider)
    {
        var db = await OpenAsync(provider);
        await using var _ = db.Owner;
        var kst = TimeSpan.FromHours(9);
        var now = new DateTimeOffset(2026, 11, 29, 1, 30, 0, TimeSpan.Zero); // 10:30 KST
        async Task Add(string id, DateTimeOffset created, bool started, long wh, long captured, long refunded, string cpo = "cpo-store")
        {
            var step = Step(id, 1, "sandbox:" + id, withMoney: false);
            await db.Store.CommitAsync(step with
            {
                Head = step.Head with { CreatedAt = created, StartedAt = started ? created : null, EnergyWh = wh, Captured = captured, Refunded = refunded, CpoId = cpo },
            });
        }
        await Add("A1", now.AddMinutes(-10), true, 5_000, 1_500, 500);  // 10:xx KST today
        await Add("A2", now.AddMinutes(-15), false, 0, 0, 0);            // never started: not a charge
        await Add("A3", now.AddHours(-3), true, 2_000, 600, 0);         // 07:xx KST today
        await Add("A4", now.AddHours(-24), true, 1_000, 300, 0);        // 10:xx KST yesterday
        await Add("A5", now.AddMinutes(-5), true, 4_000, 1_200, 0, "cpo-other");

        var hours = await ((ISessionStatistics)db.Store).ActivityAsync(now.AddHours(-23.5), now, TimeSpan.FromHours(1), kst, "cpo-store");
        Assert.Equal([new DateTimeOffset(2026, 11, 29, 7, 0, 0, kst), new DateTimeOffset(2026, 11, 29, 10, 0, 0, kst)], hours.Select(h => h.Start));
        Assert.Equal([1L, 1L], hours.Select(h => h.Charges));

        var days = await ((ISessionStatistics)db.Store).ActivityAsync(now.AddDays(-2), now, TimeSpan.FromDays(1), kst, "cpo-store");
        var today = Assert.Single(days, d => d.Start == new DateTimeOffset(2026, 11, 29, 0, 0, 0, kst));
        Assert.Equal((2, 7_000, 1_600), (today.Charges, today.EnergyWh, today.Revenue)); // 1,500 - 500 + 600
        Assert.Equal((1, 1_000, 300), days.Single(d => d.Start == new DateTimeOffset(2026, 11, 28, 0, 0, 0, kst)) is var y ? (y.Charges, y.EnergyWh, y.Revenue) : default);

        var everyone = await ((ISessionStatistics)db.Store).ActivityAsync(now.AddDays(-2), now, TimeSpan.FromDays(1), kst, null);
        Assert.Equal(3, everyone.Single(d => d.Start.Day == 29).Charges); // the other CPO's charge counts for the operator
    }

    /// <summary>
    /// The storage benchmark runs as its own process and is killed (SIGKILL) while batches are in flight. Every step it
    /// acknowledged is in the database, and every session is exactly the sum of whole steps: the head's version says
    /// which steps happened, and its meter rows and journals are exactly those steps' (none half-written).
    /// </summary>
    [Theory]
    [InlineData("postgres")]
    [InlineData("sqlite")]
    public async Task A_writer_killed_mid_batch_leaves_acknowledged_steps_durable_and_none_half_written(string provider)
    {
        string target;
        Func<DbConnection> open;
        if (provider == "postgres")
        {
            var cs = await postgres.CreateDatabaseAsync("store_crash");
            target = $"--postgres \"{cs}\"";
            open = () => new NpgsqlConnection(cs);
        }
        else
        {
            var path = Path.Combine(_dir, "crash.db");
            target = $"--sqlite {path}";
            open = () => new SqliteConnection($"Data Source={path}");
        }
        var acks = Path.Combine(_dir, $"acks-{provider}.txt");
        var dll = Path.Combine(AppContext.BaseDirectory, "EvCharge.LoadTests.dll");
        using var bench = Process.Start(new ProcessStartInfo("dotnet",
            $"{dll} store-bench {target} --charges 200000 --concurrency 64 --meters 4 --quiet --max-seconds 120 --ack-file {acks} --reports {_dir}")
        { UseShellExecute = false })!; // not redirected: a killed child's pipes would hold WaitForExit until its own hard stop
        try
        {
            var deadline = DateTime.UtcNow.AddSeconds(90);
            while (DateTime.UtcNow < deadline && (!File.Exists(acks) || File.ReadLines(acks).Count() < 3_000) && !bench.HasExited) await Task.Delay(100);
            Assert.False(bench.HasExited, $"the benchmark ended before the kill (exit {(bench.HasExited ? bench.ExitCode : 0)})");
        }
        finally
        {
            bench.Kill(); // SIGKILL: no shutdown, no flush, exactly a crash
            await bench.WaitForExitAsync();
        }

        var acknowledged = new Dictionary<string, long>();
        foreach (var line in File.ReadLines(acks))
        {
            var parts = line.Split(' ');
            if (parts.Length == 2 && long.TryParse(parts[1], out var v)) acknowledged[parts[0]] = Math.Max(acknowledged.GetValueOrDefault(parts[0]), v);
        }
        Assert.True(acknowledged.Count > 100);

        await using var c = open();
        await c.OpenAsync();
        var versions = await ReadAsync(c, "SELECT session_id, version FROM sessions");
        var meters = await ReadAsync(c, "SELECT session_id, count(*) FROM session_meter GROUP BY session_id");
        var journals = await ReadAsync(c, "SELECT session_id, count(*) FROM ledger_journals GROUP BY session_id");
        var lines = await ReadAsync(c, "SELECT session_id, count(*) FROM ledger_lines GROUP BY session_id");

        foreach (var (session, version) in acknowledged)
            Assert.True(versions.GetValueOrDefault(session) >= version, $"{session}: step {version} was acknowledged but the row is at {versions.GetValueOrDefault(session)}");
        foreach (var session in meters.Keys.Concat(journals.Keys)) Assert.True(versions.ContainsKey(session), $"{session}: rows without a head");
        foreach (var (session, version) in versions)
        {
            // The benchmark's charge: v1 intent, v2 hold journal, v3 start, v4-v7 one meter row each, v8 fee, v9 plan,
            // v10 capture + release + two remittances.
            Assert.Equal(Math.Clamp(version - 3, 0, 4), meters.GetValueOrDefault(session));
            var expectedJournals = version >= 10 ? 5 : version >= 2 ? 1 : 0;
            Assert.Equal(expectedJournals, journals.GetValueOrDefault(session));
            Assert.Equal(expectedJournals * 2, lines.GetValueOrDefault(session));
        }
    }

    private static async Task<long> CountAsync(Db db, string sql)
    {
        await using var c = db.Open();
        await c.OpenAsync();
        await using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        return Convert.ToInt64(await cmd.ExecuteScalarAsync());
    }

    private static async Task<Dictionary<string, long>> ReadAsync(DbConnection c, string sql)
    {
        await using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        var result = new Dictionary<string, long>();
        await using var r = await cmd.ExecuteReaderAsync();
        while (await r.ReadAsync()) result[r.GetString(0)] = Convert.ToInt64(r.GetValue(1));
        return result;
    }
}
