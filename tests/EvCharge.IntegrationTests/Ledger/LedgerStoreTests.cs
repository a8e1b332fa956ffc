using EvCharge.IntegrationTests.Infrastructure;
using EvCharge.Ledger;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace EvCharge.IntegrationTests.Ledger;

/// <summary>The ledger contract, run against SQLite and PostgreSQL alike.</summary>
public abstract class LedgerStoreContract : IAsyncLifetime
{
    protected ILedger Ledger { get; private set; } = null!;

    protected abstract Task<ILedger> CreateLedgerAsync();
    protected abstract Task ExecuteSqlAsync(string sql);

    public async Task InitializeAsync() => Ledger = await CreateLedgerAsync();

    public async Task DisposeAsync()
    {
        if (Ledger is IAsyncDisposable d) await d.DisposeAsync();
    }

    // A complete, correct settlement of one session: hold 30,000, capture 12,345, split 1,234 / 11,111.
    internal static IEnumerable<Journal> Settlement(string s, string wallet = "toss:w1", long hold = 30_000, long fee = 12_345, long platform = 1_234)
    {
        yield return new($"{s}:hold", s, JournalKind.Hold, [new(Accounts.Hold(s), hold), new(Accounts.Wallet(wallet), -hold)], "auth-" + s);
        yield return new($"{s}:capture", s, JournalKind.Capture, [new(Accounts.Clearing(s), fee), new(Accounts.Hold(s), -fee)]);
        yield return new($"{s}:release", s, JournalKind.Release, [new(Accounts.Wallet(wallet), hold - fee), new(Accounts.Hold(s), -(hold - fee))]);
        yield return new($"{s}:remit:platform", s, JournalKind.Remit, [new(Accounts.Payee("platform"), platform), new(Accounts.Clearing(s), -platform)]);
        yield return new($"{s}:remit:cpo", s, JournalKind.Remit, [new(Accounts.Payee("cpo-1"), fee - platform), new(Accounts.Clearing(s), -(fee - platform))]);
    }

    [Fact]
    public async Task A_thousand_concurrent_posts_with_duplicates_post_each_journal_once()
    {
        var journals = Enumerable.Range(0, 40).SelectMany(i => Settlement($"s{i:D3}", $"kakao:w{i % 7}")).ToArray();
        Assert.Equal(200, journals.Length);

        // 1000 posts, every journal five times, all in flight together.
        var posts = Enumerable.Range(0, 1000).Select(i => journals[(i * 7) % journals.Length]).ToArray();
        var results = await Task.WhenAll(posts.Select(j => Task.Run(() => Ledger.PostAsync(j))));

        Assert.Equal(200, results.Count(r => r));
        Assert.Equal(800, results.Count(r => !r));
        var report = await Ledger.CheckInvariantsAsync();
        Assert.True(report.Ok, string.Join("; ", report.Violations));
        Assert.Equal(200, report.Journals);
        Assert.Equal(report.TotalDebits, report.TotalCredits);
        Assert.Equal(40 * (30_000 + 12_345 + (30_000 - 12_345) + 12_345), report.TotalDebits);

        var platform = await Ledger.GetPayeeBalanceAsync("platform");
        Assert.Equal(40 * 1_234, platform.Remitted);
        Assert.Equal(40 * 1_234, platform.Net);
        Assert.Equal(40, platform.Sessions);
        Assert.Equal(platform, await Ledger.GetPayeeBalanceAsync(Accounts.Payee("platform")));
    }

    [Fact]
    public async Task A_replayed_journal_is_a_no_op_and_entries_are_queryable()
    {
        var journals = Settlement("replay").ToArray();
        foreach (var j in journals) Assert.True(await Ledger.PostAsync(j));
        foreach (var j in journals) Assert.False(await Ledger.PostAsync(j));

        var entries = await Ledger.GetSessionEntriesAsync("replay");
        Assert.Equal(10, entries.Count);
        Assert.Equal(0, entries.Sum(e => e.Amount));
        Assert.Contains(entries, e => e.Kind == JournalKind.Hold && e.Reference == "auth-replay" && e.Amount == 30_000);

        var hold = await Ledger.GetAccountEntriesAsync(Accounts.Hold("replay"));
        Assert.Equal(3, hold.Count);
        Assert.Equal(0, hold.Sum(e => e.Amount));
        Assert.Empty(await Ledger.GetAccountEntriesAsync(Accounts.Hold("replay"), to: DateTimeOffset.UtcNow.AddHours(-1)));
        Assert.Equal(3, (await Ledger.GetAccountEntriesAsync(Accounts.Hold("replay"), from: DateTimeOffset.UtcNow.AddHours(-1), to: DateTimeOffset.UtcNow.AddHours(1))).Count);
        Assert.Empty(await Ledger.GetSessionEntriesAsync("nobody"));
    }

    [Fact]
    public async Task A_batch_is_posted_whole_replays_skip_and_one_bad_journal_posts_none_of_it()
    {
        var journals = Settlement("batch").ToArray();
        await Ledger.PostAllAsync(journals);
        await Ledger.PostAllAsync(journals); // a replayed settlement posts nothing twice
        Assert.Equal(10, (await Ledger.GetSessionEntriesAsync("batch")).Count);

        var bad = Settlement("batch-bad").Append(new Journal("batch-bad:broken", "batch-bad", JournalKind.Remit,
            [new(Accounts.Payee("p"), 5), new(Accounts.Clearing("batch-bad"), -4)])).ToArray();
        await Assert.ThrowsAsync<ArgumentException>(() => Ledger.PostAllAsync(bad));
        Assert.Empty(await Ledger.GetSessionEntriesAsync("batch-bad"));
        Assert.True((await Ledger.CheckInvariantsAsync()).Ok);
    }

    [Fact]
    public async Task Unbalanced_or_account_less_journals_are_rejected_and_leave_nothing()
    {
        await Assert.ThrowsAsync<ArgumentException>(() => Ledger.PostAsync(
            new("bad:1", "bad", JournalKind.Hold, [new(Accounts.Hold("bad"), 1000), new(Accounts.Wallet("w"), -999)])));
        await Assert.ThrowsAsync<ArgumentException>(() => Ledger.PostAsync(
            new("bad:2", "bad", JournalKind.Hold, [new(Accounts.Hold("bad"), 1000), new("", -1000)])));
        await Assert.ThrowsAsync<ArgumentException>(() => Ledger.PostAsync(new("bad:3", "bad", JournalKind.Hold, [])));
        await Assert.ThrowsAsync<ArgumentException>(() => Ledger.PostAsync(
            new("", "bad", JournalKind.Hold, [new(Accounts.Hold("bad"), 1), new(Accounts.Wallet("w"), -1)])));
        Assert.Empty(await Ledger.GetSessionEntriesAsync("bad"));
        Assert.Equal(0, (await Ledger.CheckInvariantsAsync()).Journals);
    }

    [Fact]
    public async Task Broken_sequences_are_reported_with_their_session()
    {
        foreach (var j in Settlement("good")) await Ledger.PostAsync(j);

        // Captured twice: the hold is resolved twice and captured > authorized.
        foreach (var j in Settlement("double", hold: 10_000, fee: 6_000, platform: 600).Take(2)) await Ledger.PostAsync(j);
        await Ledger.PostAsync(new("double:capture-again", "double", JournalKind.Capture,
            [new(Accounts.Clearing("double"), 6_000), new(Accounts.Hold("double"), -6_000)]));

        // Captured, then voided as well.
        foreach (var j in Settlement("cv", hold: 5_000, fee: 5_000, platform: 500).Take(2)) await Ledger.PostAsync(j);
        await Ledger.PostAsync(new("cv:void", "cv", JournalKind.Void, [new(Accounts.Wallet("toss:w1"), 5_000), new(Accounts.Hold("cv"), -5_000)]));

        // Remits that do not add up to the capture.
        foreach (var j in Settlement("short", fee: 10_000, platform: 1_000).Take(4)) await Ledger.PostAsync(j);

        // A refund above what was captured.
        foreach (var j in Settlement("refund", fee: 1_000, platform: 100)) await Ledger.PostAsync(j);
        await Ledger.PostAsync(new("refund:r1", "refund", JournalKind.Refund, [new(Accounts.Wallet("toss:w1"), 1_500), new(Accounts.Clearing("refund"), -1_500)]));

        // A second hold for the same session.
        await Ledger.PostAsync(Settlement("twice").First());
        await Ledger.PostAsync(Settlement("twice").First() with { Key = "twice:hold-again" });

        var report = await Ledger.CheckInvariantsAsync();
        Assert.True(report.Balanced); // every journal balances on its own; the breakage is in the sequence
        Assert.False(report.Ok);
        var bySession = report.Violations.GroupBy(v => v.SessionId).ToDictionary(g => g.Key ?? "", g => g.Select(v => v.Rule).ToHashSet());
        Assert.DoesNotContain("good", bySession.Keys);
        Assert.Contains("hold-resolved-once", bySession["double"]);
        Assert.Contains("captured-le-authorized", bySession["double"]);
        Assert.Contains("hold-resolved-once", bySession["cv"]);
        Assert.Contains("hold-overdrawn", bySession["cv"]);
        Assert.Contains("splits-sum-to-capture", bySession["short"]);
        Assert.Contains("clearing-zero-after-remit", bySession["short"]);
        Assert.Contains("refunds-le-captured", bySession["refund"]);
        Assert.Contains("hold-once", bySession["twice"]);
    }

    // Issue 16: a deposit provider (charged, then the unused part cancelled), payees owed from the ledger, an increment,
    // and a long charge that rolled over to a second authorization booked under its own scope.
    internal static IEnumerable<Journal> DepositSettlement(string s, long deposit = 30_000, long fee = 3_300, long platform = 330)
    {
        var w = "kakaopay:w9";
        yield return Domain.Journals.Deposit(s, w, deposit, "T-" + s);
        yield return Domain.Journals.Capture(s, fee, "T-" + s);
        if (deposit > fee) yield return Domain.Journals.PartialCancel(s, w, deposit - fee); // nothing to cancel when the fee took it all
        yield return Domain.Journals.Payable(s, new Charging.SplitPart("cpo-9", Charging.PayeeRole.Cpo, fee - platform), "T-" + s);
        yield return Domain.Journals.Payable(s, new Charging.SplitPart("platform", Charging.PayeeRole.Platform, platform), "T-" + s);
    }

    [Fact]
    public async Task Deposits_payables_increments_and_rolled_over_authorizations_keep_the_invariants_and_breakage_is_reported()
    {
        foreach (var j in DepositSettlement("dep")) await Ledger.PostAsync(j);
        // A hold raised by 10,000, then captured above its first amount.
        await Ledger.PostAsync(Settlement("inc", hold: 30_000, fee: 35_000, platform: 3_500).First());
        await Ledger.PostAsync(Domain.Journals.HoldIncrement("inc", 1, "toss:w1", 10_000, "auth-inc"));
        foreach (var j in Settlement("inc", hold: 40_000, fee: 35_000, platform: 3_500).Skip(1)) await Ledger.PostAsync(j);
        // A long charge: the first authorization captured in full, the second ({session}-r1) its own scope.
        foreach (var j in DepositSettlement("long", deposit: 3_000, fee: 3_000, platform: 300)) await Ledger.PostAsync(j);
        foreach (var j in DepositSettlement("long-r1", deposit: 3_000, fee: 1_200, platform: 120)) await Ledger.PostAsync(j);
        var ok = await Ledger.CheckInvariantsAsync();
        Assert.True(ok.Ok, string.Join("; ", ok.Violations));
        Assert.Equal(3_300 - 330 + 3_000 - 300 + 1_200 - 120, (await Ledger.GetAccountEntriesAsync(Accounts.Payable("cpo-9"))).Sum(e => e.Amount));

        // Payables that do not add up to the capture; an increment without a hold; a deposit booked twice.
        foreach (var j in DepositSettlement("owed-short").SkipLast(1)) await Ledger.PostAsync(j);
        await Ledger.PostAsync(Domain.Journals.HoldIncrement("orphan", 1, "toss:w1", 5_000, "auth-x"));
        await Ledger.PostAsync(DepositSettlement("dup").First());
        await Ledger.PostAsync(DepositSettlement("dup").First() with { Key = "dup:hold-again" });
        var report = await Ledger.CheckInvariantsAsync();
        var bySession = report.Violations.GroupBy(v => v.SessionId).ToDictionary(g => g.Key ?? "", g => g.Select(v => v.Rule).ToHashSet());
        Assert.DoesNotContain("dep", bySession.Keys);
        Assert.DoesNotContain("long-r1", bySession.Keys);
        Assert.Contains("splits-sum-to-capture", bySession["owed-short"]);
        Assert.Contains("resolution-without-hold", bySession["orphan"]);
        Assert.Contains("hold-once", bySession["dup"]);
    }

    [Fact]
    public async Task A_refund_reversed_to_the_payees_keeps_the_ledger_consistent()
    {
        foreach (var j in Settlement("rf", fee: 10_000, platform: 1_000)) await Ledger.PostAsync(j);
        await Ledger.PostAsync(new("rf:refund:1", "rf", JournalKind.Refund, [new(Accounts.Wallet("toss:w1"), 2_000), new(Accounts.Clearing("rf"), -2_000)]));
        await Ledger.PostAsync(new("rf:reversal:platform", "rf", JournalKind.RefundReversal, [new(Accounts.Clearing("rf"), 200), new(Accounts.Payee("platform"), -200)]));
        await Ledger.PostAsync(new("rf:reversal:cpo", "rf", JournalKind.RefundReversal, [new(Accounts.Clearing("rf"), 1_800), new(Accounts.Payee("cpo-1"), -1_800)]));

        var report = await Ledger.CheckInvariantsAsync();
        Assert.True(report.Ok, string.Join("; ", report.Violations));
        var platform = await Ledger.GetPayeeBalanceAsync("platform");
        Assert.Equal(new PayeeBalance("payee:platform", 1_000, 200, 800, 1), platform);
    }

    [Fact]
    public async Task The_tables_refuse_updates_and_deletes()
    {
        await Ledger.PostAsync(Settlement("ro").First());
        await Assert.ThrowsAnyAsync<Exception>(() => ExecuteSqlAsync("UPDATE ledger_lines SET amount = amount + 1"));
        await Assert.ThrowsAnyAsync<Exception>(() => ExecuteSqlAsync("DELETE FROM ledger_journals"));
        Assert.True((await Ledger.CheckInvariantsAsync()).Ok);
    }
}

public sealed class SqliteLedgerTests : LedgerStoreContract, IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "evcharge-ledger-" + Guid.NewGuid().ToString("N")[..8]);
    private string Path_ => Path.Combine(_dir, "ledger.db");

    protected override async Task<ILedger> CreateLedgerAsync()
    {
        var ledger = new SqliteLedger(Path_);
        await ledger.EnsureSchemaAsync();
        await ledger.EnsureSchemaAsync(); // idempotent
        return ledger;
    }

    protected override async Task ExecuteSqlAsync(string sql)
    {
        await using var c = new SqliteConnection($"Data Source={Path_}");
        await c.OpenAsync();
        await using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        await cmd.ExecuteNonQueryAsync();
    }

    [Fact]
    public async Task The_file_is_in_WAL_mode()
    {
        await Ledger.PostAsync(Settlement("wal").First());
        await using var c = new SqliteConnection($"Data Source={Path_}");
        await c.OpenAsync();
        await using var cmd = c.CreateCommand();
        cmd.CommandText = "PRAGMA journal_mode";
        Assert.Equal("wal", (string?)await cmd.ExecuteScalarAsync());
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        try { Directory.Delete(_dir, true); } catch { }
    }
}

[Collection("postgres")]
public sealed class PostgresLedgerTests(PostgresServer server) : LedgerStoreContract
{
    private string _cs = "";

    protected override async Task<ILedger> CreateLedgerAsync()
    {
        _cs = await server.CreateDatabaseAsync("ledger");
        var ledger = new PostgresLedger(_cs);
        // Two concurrent schema creations must not collide (advisory lock).
        await Task.WhenAll(ledger.EnsureSchemaAsync(), ledger.EnsureSchemaAsync());
        return ledger;
    }

    protected override async Task ExecuteSqlAsync(string sql)
    {
        await using var c = new NpgsqlConnection(_cs);
        await c.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, c);
        await cmd.ExecuteNonQueryAsync();
    }
}
