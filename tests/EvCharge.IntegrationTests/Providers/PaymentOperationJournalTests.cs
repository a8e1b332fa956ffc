using EvCharge.IntegrationTests.Infrastructure;
using EvCharge.Ledger;
using EvCharge.Payments;

namespace EvCharge.IntegrationTests.Providers;

/// <summary>The journal's contract on a real PostgreSQL and a real SQLite file: first writer of a key wins, across racing callers.</summary>
[Collection("postgres")]
public sealed class PaymentOperationJournalTests(PostgresServer postgres)
{
    [Fact]
    public async Task Postgres_journal_keeps_one_call_per_key() =>
        await ContractAsync(new LedgerOptions { Provider = "Postgres", ConnectionString = await postgres.CreateDatabaseAsync("journal") });

    [Fact]
    public async Task Sqlite_journal_keeps_one_call_per_key()
    {
        var dir = Directory.CreateTempSubdirectory("evc-journal-").FullName;
        await ContractAsync(new LedgerOptions { Provider = "Sqlite", ConnectionString = Path.Combine(dir, "j.db") });
    }

    private static async Task ContractAsync(LedgerOptions options)
    {
        await using var journal = SqlPaymentOperationJournal.Create(options);
        await journal.EnsureSchemaAsync();
        await journal.EnsureSchemaAsync(); // idempotent DDL

        var racers = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => journal.BeginAsync("kakaopay", "sess-1:capture", "capture", null, "T1", "h1")));
        Assert.Equal(1, racers.Count(r => r.Outcome == JournalBegin.Started));
        Assert.Equal(7, racers.Count(r => r.Outcome == JournalBegin.InDoubt));
        Assert.Equal(JournalBegin.KeyReused, (await journal.BeginAsync("kakaopay", "sess-1:capture", "capture", null, "T1", "h2")).Outcome);
        Assert.Equal(JournalBegin.Started, (await journal.BeginAsync("toss", "sess-1:capture", "capture", null, "T1", "h1")).Outcome); // keys are per provider

        await journal.CompleteAsync("kakaopay", "sess-1:capture", "T1", """{"released":100}""");
        var (again, row) = await journal.BeginAsync("kakaopay", "sess-1:capture", "capture", null, "T1", "h1");
        Assert.Equal((JournalBegin.Completed, """{"released":100}"""), (again, row.Response));
        await journal.ForgetAsync("kakaopay", "sess-1:capture"); // done rows are never forgotten
        Assert.Equal(JournalBegin.Completed, (await journal.BeginAsync("kakaopay", "sess-1:capture", "capture", null, "T1", "h1")).Outcome);

        await journal.BeginAsync("kakaopay", "sess-2:authorize", "authorize", "sess-2", null, "h3");
        await journal.ForgetAsync("kakaopay", "sess-2:authorize");
        Assert.Equal(JournalBegin.Started, (await journal.BeginAsync("kakaopay", "sess-2:authorize", "authorize", "sess-2", null, "h3")).Outcome);
        await journal.CompleteAsync("kakaopay", "sess-2:authorize", "T2", "{}");
        Assert.Equal(["T2"], (await journal.FindAsync("kakaopay", orderId: "sess-2", operation: "authorize")).Select(r => r.AuthorizationId));
        Assert.Equal(2, (await journal.FindAsync("kakaopay")).Count);
    }
}
