using System.Diagnostics;
using EvCharge.Charging;
using EvCharge.Grains;
using EvCharge.LoadTests.Driver;
using EvCharge.LoadTests.Reporting;
using EvCharge.Payments;
using EvCharge.Sessions;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;

namespace EvCharge.LoadTests.Scenarios;

/// <summary>
/// The session store alone (no MQTT, no provider, no grains): many synthetic charges at once, each the ten durable steps
/// a paid charge writes (authorizing, authorized with its hold journal, charging, meter values, the charger's fee, the
/// settlement plan, settled with capture, release and remittances), decided by the real <see cref="SessionMachine"/>,
/// serialized as the grain does and committed through the real store. Reports steps/s and charges/s-equivalent, the
/// step-commit latency, commits and statements per charge, and core-ms per charge of this process and of PostgreSQL.
/// With <c>--ack-file</c> it appends "sessionId version" after each acknowledged step, for the crash test that kills it.
/// </summary>
public static class StoreBench
{
    public static async Task<RunReport> RunAsync(Options options, CancellationToken outer)
    {
        var charges = options.Int("charges", 20_000);
        var concurrency = options.Int("concurrency", 256);
        var meters = options.Int("meters", 4);
        var ackFile = options.GetOrNull("ack-file");
        using var hardStop = CancellationTokenSource.CreateLinkedTokenSource(outer);
        hardStop.CancelAfter(options.Seconds("max-seconds", 600));
        var ct = hardStop.Token;

        var pg = options.GetOrNull("postgres");
        var sqlite = options.GetOrNull("sqlite");
        if (pg is null == sqlite is null) throw new ArgumentException("store-bench needs exactly one of --postgres <connection string> or --sqlite <path>");
        await using var owned = (IAsyncDisposable)(pg is not null ? new PostgresSessionStore(pg) : new SqliteSessionStore(sqlite!));
        var store = (ISessionStore)owned;
        if (!options.Has("no-schema"))
        {
            if (owned is PostgresSessionStore p) await p.EnsureSchemaAsync(ct);
            else await ((SqliteSessionStore)owned).EnsureSchemaAsync(ct);
        }
        var serializer = new ServiceCollection().AddSerializer(b => b.AddAssembly(typeof(SessionRecord).Assembly)).BuildServiceProvider()
            .GetRequiredService<Serializer<SessionRecord>>();

        var metrics = new Metrics();
        var runId = options.Get("run-id", Convert.ToHexString(BitConverter.GetBytes(Random.Shared.Next()))[..6].ToLowerInvariant());
        await using var acks = ackFile is null ? null : new StreamWriter(ackFile, append: true) { AutoFlush = true };
        var ackGate = new object();

        var costs = await ChargeCosts.StartAsync(pg, [("store-bench (decisions, serializer, store client)", Environment.ProcessId)], ct);
        var commitsBefore = store.Counters.Commits;
        var statementsBefore = store.Counters.Statements;
        var started = Stopwatch.GetTimestamp();
        var next = -1;
        var completed = 0;

        async Task Worker()
        {
            while (!ct.IsCancellationRequested)
            {
                var n = Interlocked.Increment(ref next);
                if (n >= charges) return;
                try
                {
                    await ChargeAsync($"SB{runId}{n:D12}", n);
                    Interlocked.Increment(ref completed);
                }
                catch (OperationCanceledException) when (ct.IsCancellationRequested) { return; }
                catch (Exception ex) { metrics.Error(ex.GetType().Name); }
            }
        }

        async Task ChargeAsync(string sessionId, int n)
        {
            var rules = SessionRules.From(new EvChargeOptions());
            var state = new SessionRecord();
            var version = 0L;
            DateTimeOffset? due = null;
            var t = DateTimeOffset.UtcNow;
            async Task Step(SessionCommand command)
            {
                var decision = SessionMachine.Decide(sessionId, state, command, t, rules);
                var head = SessionProjection.Head(sessionId, version + 1, decision.Next, t, rules, version == 0 ? null : (state.State, due));
                var begin = Metrics.Now;
                await store.CommitAsync(new SessionStep(head, serializer.SerializeToArray(decision.Next with { Samples = [] }), decision.NewSamples, decision.Journals), ct);
                metrics.Record("step-commit", begin);
                state = decision.Next;
                version++;
                due = head.DueAt;
                if (acks is not null) lock (ackGate) acks.WriteLine($"{sessionId} {version}");
            }
            var start = new SessionStart($"SB-{n % 5_000}", 1, "cpo-bench", Tariff.Flat("std", 300), 30_000, new Commission(1_000, 0),
                "cpo-bench-settlement", "platform-operator", new PaymentPresentation("sandbox", $"code-{n}", null), sessionId);
            await Step(new AuthorizeSession(start));
            await Step(new AuthorizeAnswered(new AuthorizeOutcome(true, $"auth_{sessionId}", $"w{runId}{n}", 30_000, null, null, null),
                new HoldClaim(true, sessionId, null), false));
            await Step(new StartCharging(1, 0, t));
            for (var m = 1; m <= meters; m++) await Step(new AddMeterSamples([new MeterSample(t.AddSeconds(m), m * 2_000L)]));
            await Step(new ReportChargerFee(3_000));
            await Step(new StopCharging(new StopReport((meters + 1) * 2_000L, t.AddSeconds(meters + 1), null, [])));
            await Step(new CaptureAnswered(new CaptureOutcome(true, $"pay_{sessionId}", state.PlannedCapture, 30_000 - state.PlannedCapture, [], null, null)));
            if (state.State != SessionState.Settled) throw new InvalidOperationException($"synthetic charge ended {state.State}");
        }

        var progress = Task.Run(async () =>
        {
            using var timer = new PeriodicTimer(TimeSpan.FromSeconds(5));
            while (await timer.WaitForNextTickAsync(ct).ConfigureAwait(false) is var more && more && Volatile.Read(ref completed) < charges)
                if (!options.Has("quiet")) Console.WriteLine($"[store-bench] {Volatile.Read(ref completed)}/{charges} charges, {metrics.TotalErrors} errors");
        }, CancellationToken.None).ContinueWith(_ => { }, TaskScheduler.Default);

        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(Worker, CancellationToken.None)));
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        hardStop.Cancel();
        await progress;

        var done = Math.Max(1, completed);
        var steps = store.Counters.Steps;
        var figures = new Dictionary<string, double>
        {
            ["charges completed"] = completed,
            ["charges/s-equivalent"] = completed / seconds,
            ["steps/s"] = metrics.Summary("step-commit")?.Count / seconds ?? 0,
            ["store commits per charge"] = (store.Counters.Commits - commitsBefore) / (double)done,
            ["store statements per charge (BEGIN/COMMIT excluded)"] = (store.Counters.Statements - statementsBefore) / (double)done,
            ["steps per commit"] = steps / (double)Math.Max(1, store.Counters.Commits),
        };
        await costs.ReportAsync(figures, done, CancellationToken.None);
        var report = new RunReport
        {
            Scenario = "store-bench", RunId = runId, StartedAt = DateTimeOffset.UtcNow.AddSeconds(-seconds), MeasuredSeconds = seconds,
            Settings = options.All.Where(kv => kv.Key != "postgres").ToDictionary(kv => kv.Key, kv => kv.Value),
            Latencies = metrics.Summaries(), Counters = metrics.Counters, Errors = metrics.Errors, Figures = figures,
            Notes = [pg is not null ? "PostgreSQL session store" : $"SQLite session store ({sqlite})"],
        };
        if (!options.Has("quiet")) Console.WriteLine(report.ToMarkdown());
        Console.WriteLine($"report: {report.Write(options.Get("reports", Path.Combine("load-tests", "reports")))}");
        return report;
    }
}
