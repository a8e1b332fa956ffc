using System.Diagnostics;
using System.Threading.Channels;
using EvCharge.Charging;
using EvCharge.LoadTests.Driver;
using EvCharge.LoadTests.Reporting;

namespace EvCharge.LoadTests.Scenarios;

/// <summary>
/// The NBomber-like scenarios: each has a name, a load simulation (ramp, open-model arrival rate, or all at once),
/// a bounded duration, and per-step latencies. See docs/performance.md for the options and measured results.
/// </summary>
public static class LoadScenarios
{
    public static readonly string[] Names = ["simulate", "connect", "steady", "bootstorm", "mixed"];

    public static async Task<RunReport> RunAsync(string name, Options o, Target target, CancellationToken ct)
    {
        await using var ctx = new RunContext(name, o, target, ct);
        var sw = Stopwatch.StartNew();
        try
        {
            switch (name)
            {
                case "simulate": await SimulateAsync(ctx); break;
                case "connect": await ConnectAsync(ctx); break;
                case "steady": await SteadyAsync(ctx); break;
                case "bootstorm": await BootStormAsync(ctx); break;
                case "mixed": await MixedAsync(ctx); break;
                default: throw new ArgumentException($"unknown scenario '{name}'; one of {string.Join(", ", Names)}");
            }
        }
        catch (OperationCanceledException) when (ctx.Token.IsCancellationRequested)
        {
            ctx.Notes.Add($"stopped by the hard limit (--max-seconds) or Ctrl+C after {sw.Elapsed.TotalSeconds:0} s");
            ctx.Metrics.Error("run:hard-stop");
        }
        ctx.Figures["run.wall-seconds"] = Math.Round(sw.Elapsed.TotalSeconds, 1);
        if (ctx.Fleet is not null) await ctx.Fleet.StopHeartbeatsAsync();
        return await ctx.FinishAsync();
    }

    /// <summary>Registers the fleet's chargers (not measured) and connects/boots them at the ramp rate.</summary>
    private static async Task<ChargerFleet> SetupFleetAsync(RunContext ctx, int chargers, double ramp)
    {
        var fleet = ctx.CreateFleet(chargers);
        await using (ctx.Progress("register"))
            await ctx.Target.RegisterAsync(fleet.Chargers, ctx.Prefix, ctx.Metrics, ctx.Token, ctx.Options.Int("register-concurrency", 32));
        var sw = Stopwatch.StartNew();
        await using (ctx.Progress("connect"))
            await fleet.ConnectAllAsync(ramp, ctx.Options.Int("connect-inflight", 512), boot: true, attempts: 3, ctx.Token);
        ctx.Figures["connect.seconds"] = Math.Round(sw.Elapsed.TotalSeconds, 1);
        ctx.Figures["chargers.connected-after-ramp"] = fleet.Connected;
        return fleet;
    }

    // ---- simulate: a handful of chargers and phones running complete paid charges, with a live progress line ----
    private static async Task SimulateAsync(RunContext ctx)
    {
        var n = ctx.Options.Int("chargers", 10);
        var total = ctx.Options.Int("charges", 20);
        var profile = ctx.ChargeProfile() with
        {
            Length = ctx.Options.Seconds("charge-seconds", 3),
            MeterInterval = ctx.Options.Seconds("meter-seconds", 1),
        };
        var fleet = await SetupFleetAsync(ctx, n, ctx.Options.Double("ramp", 100));
        await ctx.CreatePhonesAsync(n);
        fleet.StartHeartbeats(ctx.Options.Seconds("heartbeat", 30));
        ctx.MeasureFrom = DateTimeOffset.UtcNow;
        var sw = Stopwatch.StartNew();
        var issued = 0;
        await using (ctx.Progress("charging"))
        {
            // Closed model: each connected charger works through the remaining charges, one at a time.
            var workers = new List<Task>();
            while (fleet.Idle.Reader.TryRead(out var charger))
            {
                var c = charger;
                workers.Add(Task.Run(async () =>
                {
                    while (Interlocked.Increment(ref issued) <= total && !ctx.Token.IsCancellationRequested)
                    {
                        var phone = await ctx.Phones!.RentAsync(ctx.Token);
                        try { await ctx.Charges!.RunAsync(c, phone, profile, ctx.Token); }
                        finally { ctx.Phones.Return(phone); }
                    }
                }));
            }
            if (workers.Count == 0) ctx.Metrics.Error("simulate:no-charger-connected");
            await Task.WhenAll(workers);
        }
        ctx.MeasuredSeconds = sw.Elapsed.TotalSeconds;
        ctx.Figures["charges.requested"] = total;
        ctx.Figures["charges.completed"] = ctx.Metrics.Counter("charges.completed");
        ctx.Figures["charges.per-second"] = Math.Round(ctx.Metrics.Counter("charges.completed") / Math.Max(0.001, ctx.MeasuredSeconds), 2);
        ctx.Figures["receipts.received"] = ctx.Phones!.ReceiptsReceived;
    }

    // ---- connect: N chargers at a ramp rate, held with heartbeats; memory per idle charger ----
    private static async Task ConnectAsync(RunContext ctx)
    {
        var n = ctx.Options.Int("chargers", 1000);
        var hold = ctx.Options.Seconds("hold", 30);
        var fleet = ctx.CreateFleet(n);
        var pid = ctx.Sut.Pid;
        var rssStart = ResourceSampler.Read(pid)?.RssKb ?? 0;
        await using (ctx.Progress("register"))
            await ctx.Target.RegisterAsync(fleet.Chargers, ctx.Prefix, ctx.Metrics, ctx.Token, ctx.Options.Int("register-concurrency", 32));
        await Task.Delay(TimeSpan.FromSeconds(2), ctx.Token);
        var rssRegistered = ResourceSampler.Read(pid)?.RssKb ?? 0;
        var driverBefore = ResourceSampler.Read(Environment.ProcessId)?.RssKb ?? 0;

        ctx.MeasureFrom = DateTimeOffset.UtcNow;
        var sw = Stopwatch.StartNew();
        await using (ctx.Progress("ramp"))
            await fleet.ConnectAllAsync(ctx.Options.Double("ramp", 500), ctx.Options.Int("connect-inflight", 512), boot: true, attempts: 3, ctx.Token);
        var rampSeconds = sw.Elapsed.TotalSeconds;
        fleet.StartHeartbeats(ctx.Options.Seconds("heartbeat", 30));

        var minConnected = int.MaxValue;
        var hbBefore = ctx.Metrics.Counter("heartbeats");
        var holdWatch = Stopwatch.StartNew();
        await using (ctx.Progress("hold"))
        {
            while (holdWatch.Elapsed < hold && !ctx.Token.IsCancellationRequested)
            {
                await Task.Delay(TimeSpan.FromSeconds(1), ctx.Token);
                minConnected = Math.Min(minConnected, fleet.Connected);
            }
        }
        var rssHeld = ResourceSampler.Read(pid)?.RssKb ?? 0;
        var driverAfter = ResourceSampler.Read(Environment.ProcessId)?.RssKb ?? 0;
        ctx.MeasuredSeconds = sw.Elapsed.TotalSeconds;
        var connected = fleet.Connected;
        ctx.Figures["chargers"] = n;
        ctx.Figures["chargers.connected-end"] = connected;
        ctx.Figures["chargers.connected-min-during-hold"] = minConnected == int.MaxValue ? connected : minConnected;
        ctx.Figures["ramp.seconds"] = Math.Round(rampSeconds, 1);
        ctx.Figures["ramp.achieved-per-second"] = Math.Round(n / Math.Max(0.001, rampSeconds), 1);
        ctx.Figures["heartbeats.per-second-during-hold"] = Math.Round((ctx.Metrics.Counter("heartbeats") - hbBefore) / Math.Max(0.001, holdWatch.Elapsed.TotalSeconds), 1);
        ctx.Figures["sut.rss-mb-before-registration"] = Math.Round(rssStart / 1024.0, 1);
        ctx.Figures["sut.rss-mb-after-registration"] = Math.Round(rssRegistered / 1024.0, 1);
        ctx.Figures["sut.rss-mb-connected-idle"] = Math.Round(rssHeld / 1024.0, 1);
        if (connected > 0)
        {
            // Grain activation + MQTT session + bridge state, and the connection alone (grains were activated by registration).
            ctx.Figures["sut.kb-per-idle-charger (grain+connection)"] = Math.Round((rssHeld - rssStart) / (double)connected, 1);
            ctx.Figures["sut.kb-per-idle-charger (connection only)"] = Math.Round((rssHeld - rssRegistered) / (double)connected, 1);
            ctx.Figures["driver.kb-per-simulated-charger"] = Math.Round((driverAfter - driverBefore) / (double)connected, 1);
        }
        ctx.Notes.Add("Memory per charger is the RSS difference divided by connected chargers; RSS includes GC headroom, so it is an upper bound.");
    }

    /// <summary>
    /// The common start of the charging scenarios: connect the fleet, give each charger a phone, start heartbeats and
    /// take the durable-write baselines (PostgreSQL commits, ledger journals) that the report compares against.
    /// </summary>
    private static async Task<(ChargerFleet Fleet, (long Commits, long RowWrites)? PgBefore, int JournalsBefore)> PrepareChargingFleetAsync(RunContext ctx, int n)
    {
        var fleet = await SetupFleetAsync(ctx, n, ctx.Options.Double("ramp", 1000));
        await using (ctx.Progress("phones")) await ctx.CreatePhonesAsync(n);
        fleet.StartHeartbeats(ctx.Options.Seconds("heartbeat", 60));
        var pgBefore = await ctx.Target.PostgresWritesAsync(ctx.Token);
        ctx.ProviderBucketsBefore = ctx.Target.Api is { } api ? await SiloMetrics.ProviderAuthorizationBucketsAsync(api, ctx.Token) : null;
        var journalsBefore = ctx.Target.Ledger is { } l0 ? (await l0.CheckInvariantsAsync(ctx.Token)).Journals : 0;
        return (fleet, pgBefore, journalsBefore);
    }

    // ---- steady: open model, arrivals per second of complete paid charges ----
    private static async Task SteadyAsync(RunContext ctx)
    {
        var rate = ctx.Options.Double("rate", 10);
        var duration = ctx.Options.Seconds("duration", 60);
        var profile = ctx.ChargeProfile();
        var needed = (int)Math.Ceiling(rate * (profile.Length.TotalSeconds + 3) * 1.3) + 10;
        var n = ctx.Options.Int("chargers", needed);
        var (fleet, pgBefore, journalsBefore) = await PrepareChargingFleetAsync(ctx, n);

        ctx.MeasureFrom = DateTimeOffset.UtcNow;
        var costs = await ChargeCosts.StartAsync(ctx.Target, ctx.Token);
        var inflight = new InFlight();
        await using (ctx.Progress("arrivals"))
            await ArrivalsAsync(ctx, rate, duration, "charge", () => LaunchCharge(ctx, profile, inflight));
        var drain = Stopwatch.StartNew();
        await using (ctx.Progress("drain"))
            await inflight.DrainAsync(profile.ReceiptTimeout + ctx.CallTimeout * 2, ctx.Token);
        ctx.MeasuredSeconds = duration.TotalSeconds;
        await Task.Delay(TimeSpan.FromSeconds(2), ctx.Token); // let settlement journals land before counting writes

        var completed = ctx.Metrics.Counter("charges.completed");
        ctx.Figures["arrival.rate-offered"] = rate;
        ctx.Figures["arrivals"] = ctx.Metrics.Counter("arrivals.charge");
        ctx.Figures["charges.completed"] = completed;
        ctx.Figures["charges.completed-per-second"] = Math.Round(completed / duration.TotalSeconds, 2);
        ctx.Figures["drain.seconds"] = Math.Round(drain.Elapsed.TotalSeconds, 1);
        ctx.Figures["chargers"] = n;
        ctx.Figures["chargers.connected-end"] = fleet.Connected;
        await costs.ReportAsync(ctx.Figures, completed, ctx.Token);
        await DurableWritesAsync(ctx, pgBefore, journalsBefore, completed);
    }

    // ---- mixed: charges, declined authorizations and operator reads at their own arrival rates ----
    private static async Task MixedAsync(RunContext ctx)
    {
        var chargeRate = ctx.Options.Double("rate", 5);
        var authRate = ctx.Options.Double("auth-rate", 2);
        var readRate = ctx.Options.Double("read-rate", 20);
        var duration = ctx.Options.Seconds("duration", 60);
        var profile = ctx.ChargeProfile();
        var n = ctx.Options.Int("chargers", (int)Math.Ceiling((chargeRate * (profile.Length.TotalSeconds + 3) + authRate * 2) * 1.3) + 10);
        var (fleet, pgBefore, journalsBefore) = await PrepareChargingFleetAsync(ctx, n);

        ctx.MeasureFrom = DateTimeOffset.UtcNow;
        var costs = await ChargeCosts.StartAsync(ctx.Target, ctx.Token);
        var inflight = new InFlight();
        await using (ctx.Progress("mixed"))
        {
            await Task.WhenAll(
                ArrivalsAsync(ctx, chargeRate, duration, "charge", () => LaunchCharge(ctx, profile, inflight)),
                ArrivalsAsync(ctx, authRate, duration, "declined-authorization", () => LaunchDeclinedAuthorization(ctx, inflight)),
                ArrivalsAsync(ctx, readRate, duration, "operator-read", () => LaunchOperatorRead(ctx, inflight)));
        }
        await using (ctx.Progress("drain"))
            await inflight.DrainAsync(profile.ReceiptTimeout + ctx.CallTimeout * 2, ctx.Token);
        ctx.MeasuredSeconds = duration.TotalSeconds;
        await Task.Delay(TimeSpan.FromSeconds(2), ctx.Token);

        var completed = ctx.Metrics.Counter("charges.completed");
        ctx.Figures["charges.completed"] = completed;
        ctx.Figures["charges.completed-per-second"] = Math.Round(completed / duration.TotalSeconds, 2);
        ctx.Figures["authorizations.declined"] = ctx.Metrics.Counter("authorizations.declined");
        ctx.Figures["operator-reads"] = ctx.Metrics.Counter("operator-reads");
        ctx.Figures["operations.per-second"] = Math.Round((completed + ctx.Metrics.Counter("authorizations.declined") + ctx.Metrics.Counter("operator-reads")) / duration.TotalSeconds, 1);
        await costs.ReportAsync(ctx.Figures, completed, ctx.Token);
        ctx.Notes.Add("Operator reads go to the charger and session grains through the Orleans client (charger view, session view, wallet at the sandbox); switch to the REST facade's /api/v1 reads once issue 5 lands.");
        await DurableWritesAsync(ctx, pgBefore, journalsBefore, completed);
    }

    // ---- bootstorm: all chargers drop, queue transaction messages, and come back at once ----
    private static async Task BootStormAsync(RunContext ctx)
    {
        var n = ctx.Options.Int("chargers", 1000);
        var k = Math.Min(n, ctx.Options.Int("transactions", Math.Min(n, 200)));
        var outage = ctx.Options.Seconds("outage", 5);
        var profile = ctx.ChargeProfile();
        var fleet = await SetupFleetAsync(ctx, n, ctx.Options.Double("ramp", 1000));
        await using (ctx.Progress("phones")) await ctx.CreatePhonesAsync(Math.Max(1, k));

        // Live transactions on the first k chargers when the power/network cut hits.
        var live = fleet.Chargers.Take(k).Where(c => c.IsConnected).ToList();
        await using (ctx.Progress("start-transactions"))
        {
            using var gate = new SemaphoreSlim(64);
            await Task.WhenAll(live.Select(async c =>
            {
                await gate.WaitAsync(ctx.Token);
                var phone = await ctx.Phones!.RentAsync(ctx.Token);
                try
                {
                    var code = await ctx.Phones.PaymentCodeAsync(phone, ctx.Token);
                    var (reference, tx) = await ctx.Charges!.AuthorizeAndStartAsync(c, code, 0, ctx.Token);
                    if (reference is not null) c.Live = (reference, tx, 0);
                }
                catch (OcppCallException ex) { ctx.Metrics.Error("pre-storm:" + ex.Kind); }
                finally { ctx.Phones.Return(phone); gate.Release(); }
            }));
        }
        var withTx = fleet.Chargers.Where(c => c.Live is not null).ToList();

        ctx.MeasureFrom = DateTimeOffset.UtcNow;
        await using (ctx.Progress("outage"))
        {
            await fleet.DisconnectAllAsync();
            var offlineAt = DateTimeOffset.UtcNow;
            foreach (var c in withTx)
            {
                var (reference, tx, start) = c.Live!.Value;
                var energy = profile.EnergyWh;
                c.Offline.Enqueue(("MeterValues", OcppPayloads.MeterValues(1, tx, start + energy / 2, offlineAt.AddSeconds(1)), reference));
                c.Offline.Enqueue(("DataTransfer", OcppPayloads.ChargerFee(tx, OcppPayloads.Fee(energy, Target.PricePerKwh), energy), reference));
                c.Offline.Enqueue(("StopTransaction", OcppPayloads.StopTransaction(tx, reference, start + energy, offlineAt.AddSeconds(2)), reference));
            }
            await Task.Delay(outage, ctx.Token);
        }
        var queued = withTx.Sum(c => c.Offline.Count);

        var storm = Stopwatch.StartNew();
        double allBackSeconds = 0;
        var reconnected = 0;
        var receipts = withTx.ToDictionary(c => c.Live!.Value.Reference, c => ctx.Phones!.ExpectReceipt(c.Live!.Value.Reference));
        await using (ctx.Progress("storm"))
        {
            // Every charger at once: no ramp, no client-side limit; failed CONNECTs back off with jitter and retry.
            var tasks = fleet.Chargers.Select(c => Task.Run(async () =>
            {
                if (!await fleet.ConnectOneAsync(c, boot: true, attempts: ctx.Options.Int("storm-attempts", 10), "reconnect", ctx.Token)) return;
                Interlocked.Increment(ref reconnected);
                await FlushAsync(ctx, c);
            })).ToList();
            await Task.WhenAll(tasks);
            allBackSeconds = storm.Elapsed.TotalSeconds;
        }
        var receiptsOk = 0;
        await using (ctx.Progress("receipts"))
        {
            foreach (var (session, task) in receipts)
            {
                try { await task.WaitAsync(profile.ReceiptTimeout, ctx.Token); receiptsOk++; }
                catch (TimeoutException) { ctx.Metrics.Error("storm:receipt-missing"); }
                finally { ctx.Phones!.Forget(session); }
            }
        }
        ctx.MeasuredSeconds = storm.Elapsed.TotalSeconds;
        ctx.Figures["chargers"] = n;
        ctx.Figures["chargers.reconnected"] = reconnected;
        ctx.Figures["storm.seconds-until-all-booted-and-flushed"] = Math.Round(allBackSeconds, 1);
        ctx.Figures["transactions.live-at-outage"] = withTx.Count;
        ctx.Figures["messages.queued"] = queued;
        ctx.Figures["messages.confirmed"] = ctx.Metrics.Counter("flush.confirmed");
        ctx.Figures["messages.lost"] = queued - ctx.Metrics.Counter("flush.confirmed");
        ctx.Figures["receipts.received"] = receiptsOk;
        ctx.Notes.Add("A message counts as lost if no CALLRESULT confirmed it after every retry (OCPP 1.6 §3.7: the charger retries with the same payload); "
                      + "a stopped session without a receipt on the phone is counted as storm:receipt-missing.");
    }

    private static async Task FlushAsync(RunContext ctx, SimCharger c)
    {
        while (c.Offline.TryPeek(out var message))
        {
            var confirmed = false;
            for (var attempt = 1; attempt <= 5 && !confirmed && !ctx.Token.IsCancellationRequested; attempt++)
            {
                var t0 = Metrics.Now;
                try
                {
                    var answer = await c.CallAsync(message.Action, message.Payload, ctx.CallTimeout, ctx.Token);
                    ctx.Metrics.Record("flush." + message.Action, t0);
                    if (answer.IsError) ctx.Metrics.Error($"flush:{message.Action}:{answer.ErrorCode}");
                    confirmed = !answer.IsError;
                }
                catch (OcppCallException ex)
                {
                    ctx.Metrics.Count($"flush.retry:{ex.Kind}");
                    if (!c.IsConnected) await ctx.Fleet!.ConnectOneAsync(c, boot: true, attempts: 5, "reconnect", ctx.Token);
                }
            }
            if (confirmed) ctx.Metrics.Count("flush.confirmed");
            else ctx.Metrics.Error("lost:" + message.Action);
            c.Offline.Dequeue();
        }
        c.Live = null;
    }

    private static async Task DurableWritesAsync(RunContext ctx, (long Commits, long RowWrites)? pgBefore, int journalsBefore, long completed)
    {
        if (completed == 0) return;
        if (ctx.ProviderBucketsBefore is { } bucketsBefore
            && ctx.Target.Api is { } api
            && await SiloMetrics.ProviderAuthorizationBucketsAsync(api, ctx.Token) is { } bucketsAfter
            && SiloMetrics.Between(bucketsBefore, bucketsAfter) is { } provider)
        {
            // The provider's share of "authorize", measured inside the silo (bucket upper bounds, ms).
            ctx.Figures["provider.authorize.calls"] = provider.Count;
            ctx.Figures["provider.authorize.p50-ms (bucket bound)"] = provider.P50;
            ctx.Figures["provider.authorize.p95-ms (bucket bound)"] = provider.P95;
            ctx.Figures["provider.authorize.p99-ms (bucket bound)"] = provider.P99;
        }
        if (pgBefore is { } before && await ctx.Target.PostgresWritesAsync(ctx.Token) is { } after)
        {
            ctx.Figures["postgres.commits-per-charge"] = Math.Round((after.Commits - before.Commits) / (double)completed, 1);
            ctx.Figures["postgres.row-writes-per-charge"] = Math.Round((after.RowWrites - before.RowWrites) / (double)completed, 1);
            ctx.Figures["postgres.commits-per-second"] = Math.Round((after.Commits - before.Commits) / Math.Max(1, ctx.MeasuredSeconds), 1);
        }
        if (ctx.Target.Ledger is { } ledger)
            ctx.Figures["ledger.journals-per-charge"] = Math.Round(((await ledger.CheckInvariantsAsync(ctx.Token)).Journals - journalsBefore) / (double)completed, 2);
    }

    /// <summary>
    /// Open-model arrivals: a producer emits rate×elapsed arrivals into a bounded channel; one consumer hands each to
    /// <paramref name="launch"/>, which must return at once. A full channel means the driver itself cannot keep up,
    /// and is reported as an error rather than silently slowing the offered load.
    /// </summary>
    private static async Task ArrivalsAsync(RunContext ctx, double rate, TimeSpan duration, string kind, Action launch)
    {
        if (rate <= 0) return;
        var arrivals = Channel.CreateBounded<long>(new BoundedChannelOptions(Math.Max(64, (int)(rate * 2))) { SingleReader = true, SingleWriter = true });
        var consumer = Task.Run(async () =>
        {
            await foreach (var _ in arrivals.Reader.ReadAllAsync())
            {
                ctx.Metrics.Count("arrivals." + kind);
                launch();
            }
        });
        var sw = Stopwatch.StartNew();
        long emitted = 0;
        using (var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(10)))
        {
            try
            {
                while (sw.Elapsed < duration && await timer.WaitForNextTickAsync(ctx.Token))
                {
                    var due = (long)(rate * Math.Min(sw.Elapsed.TotalSeconds, duration.TotalSeconds));
                    for (; emitted < due; emitted++)
                        if (!arrivals.Writer.TryWrite(emitted)) ctx.Metrics.Error($"arrival:{kind}:driver-backlog");
                }
            }
            catch (OperationCanceledException) { }
        }
        arrivals.Writer.Complete();
        await consumer;
    }

    private static void LaunchCharge(RunContext ctx, ChargeProfile profile, InFlight inflight)
    {
        if (!ctx.Fleet!.Idle.Reader.TryRead(out var charger)) { ctx.Metrics.Error("arrival:no-idle-charger"); return; }
        if (!ctx.Phones!.TryRent(out var phone)) { ctx.Fleet.Idle.Writer.TryWrite(charger); ctx.Metrics.Error("arrival:no-idle-phone"); return; }
        inflight.Run(async () =>
        {
            try { await ctx.Charges!.RunAsync(charger, phone, profile, ctx.Token); }
            finally
            {
                ctx.Phones.Return(phone);
                if (charger.IsConnected) ctx.Fleet.Idle.Writer.TryWrite(charger);
            }
        });
    }

    private static void LaunchDeclinedAuthorization(RunContext ctx, InFlight inflight)
    {
        if (!ctx.Fleet!.Idle.Reader.TryRead(out var charger)) { ctx.Metrics.Error("arrival:no-idle-charger"); return; }
        inflight.Run(async () =>
        {
            try
            {
                // A code the wallet provider never issued: the charger must get Rejected, and no hold may remain.
                var code = Random.Shared.NextInt64(10_000_000_000, 99_999_999_999).ToString() + "000000000";
                await ctx.Charges!.AuthorizeAndStartAsync(charger, code, 0, ctx.Token, expectRejected: true);
            }
            catch (OcppCallException ex) { ctx.Metrics.Error("declined-authorization:" + ex.Kind); }
            catch (OperationCanceledException) { }
            finally { if (charger.IsConnected) ctx.Fleet.Idle.Writer.TryWrite(charger); }
        });
    }

    private static void LaunchOperatorRead(RunContext ctx, InFlight inflight)
    {
        var fleet = ctx.Fleet!;
        var charger = fleet.Chargers[Random.Shared.Next(fleet.Chargers.Count)];
        var sessions = ctx.Charges!.Sessions;
        inflight.Run(async () =>
        {
            var t0 = Metrics.Now;
            try
            {
                var view = await ctx.Target.Grains.GetGrain<IChargerGrain>(charger.Id).GetView();
                var session = view.Connectors.FirstOrDefault(x => x.SessionId is not null)?.SessionId ?? sessions.FirstOrDefault();
                if (session is not null) await ctx.Target.Grains.GetGrain<IChargingSessionGrain>(session).GetView();
                ctx.Metrics.Record("operator-read", t0);
                ctx.Metrics.Count("operator-reads");
            }
            catch (Exception ex) { ctx.Metrics.Error("operator-read:" + ex.GetType().Name); }
        });
    }

    /// <summary>Counts operations in flight, so the end of a run waits (bounded) for them instead of cutting them off.</summary>
    private sealed class InFlight
    {
        private long _count;
        public void Run(Func<Task> work)
        {
            Interlocked.Increment(ref _count);
            _ = Task.Run(async () =>
            {
                try { await work(); }
                finally { Interlocked.Decrement(ref _count); }
            });
        }

        public async Task DrainAsync(TimeSpan limit, CancellationToken ct)
        {
            var sw = Stopwatch.StartNew();
            while (Interlocked.Read(ref _count) > 0 && sw.Elapsed < limit)
                await Task.Delay(100, ct);
        }
    }
}
