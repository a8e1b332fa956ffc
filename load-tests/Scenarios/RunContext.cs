using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using EvCharge.LoadTests.Driver;
using EvCharge.LoadTests.Reporting;

namespace EvCharge.LoadTests.Scenarios;

/// <summary>Everything one scenario run shares: options, target, metrics, samplers, the hard stop, report facts.</summary>
public sealed class RunContext : IAsyncDisposable
{
    private readonly CancellationTokenSource _hardStop;

    public RunContext(string scenario, Options options, Target target, CancellationToken outer)
    {
        Scenario = scenario;
        Options = options;
        Target = target;
        RunId = options.Get("run-id", Convert.ToHexString(BitConverter.GetBytes(Random.Shared.Next()))[..6].ToLowerInvariant());
        Prefix = options.Get("prefix", $"lt{RunId}-");
        if (!EvCharge.ChargerBridge.Mqtt.ChargerTopics.IsValidChargerId(Prefix + "00000"))
            throw new ArgumentException($"--prefix '{Prefix}' does not make valid charger ids");
        // Every run is bounded: the scenario's own length plus set-up and drain, never more than --max-seconds.
        _hardStop = CancellationTokenSource.CreateLinkedTokenSource(outer);
        _hardStop.CancelAfter(options.Seconds("max-seconds", 900));
        CallTimeout = options.Seconds("call-timeout", 30);
        Sut = new ResourceSampler(target.SutPid ?? Environment.ProcessId);
        Driver = target.SutPid is null or 0 || target.SutPid == Environment.ProcessId ? null : new ResourceSampler(Environment.ProcessId);
        Provider = target.ProviderPid is > 0 and var provider ? new ResourceSampler(provider) : null;
        Quiet = options.Has("quiet");
    }

    public string Scenario { get; }
    public Options Options { get; }
    public Target Target { get; }
    public string RunId { get; }
    public string Prefix { get; }
    public TimeSpan CallTimeout { get; }
    public bool Quiet { get; }
    public Metrics Metrics { get; } = new();
    public CancellationToken Token => _hardStop.Token;
    public ResourceSampler Sut { get; }
    public ResourceSampler? Driver { get; }
    /// <summary>The silo's provider-authorization histogram when the measured part of the run began.</summary>
    public SortedDictionary<double, long>? ProviderBucketsBefore { get; set; }
    /// <summary>The wallet provider (a stand-alone social-sandbox, --provider-pid), reported apart from the silo.</summary>
    public ResourceSampler? Provider { get; }
    public ChargerFleet? Fleet { get; set; }
    public PhonePool? Phones { get; set; }
    public PaidCharge? Charges { get; set; }
    public Dictionary<string, double> Figures { get; } = new();
    public List<string> Notes { get; } = [];
    public DateTimeOffset StartedAt { get; } = DateTimeOffset.UtcNow;
    public DateTimeOffset MeasureFrom { get; set; } = DateTimeOffset.UtcNow;
    public double MeasuredSeconds { get; set; }
    public Func<string>? ProgressExtra { get; set; }

    public ChargerFleet CreateFleet(int chargers) => Fleet = new ChargerFleet(Target, Metrics, Prefix, chargers, CallTimeout);

    public async Task<PhonePool> CreatePhonesAsync(int count)
    {
        Phones = new PhonePool(Target.Sandbox, Metrics);
        Charges = new PaidCharge(Metrics, Phones, CallTimeout);
        await Phones.AddPhonesAsync(Prefix, count, balance: 1_000_000_000, Token);
        return Phones;
    }

    public ChargeProfile ChargeProfile() => new(
        Options.Seconds("charge-seconds", 10), Options.Seconds("meter-seconds", 2),
        Options.Int("energy-wh", 10_000), Options.Seconds("receipt-timeout", 60));

    /// <summary>A console line per second (per 5 s when output is redirected), until the returned handle is disposed.</summary>
    public IAsyncDisposable Progress(string phase)
    {
        var stop = new CancellationTokenSource();
        var start = Stopwatch.GetTimestamp();
        var period = Console.IsOutputRedirected ? TimeSpan.FromSeconds(5) : TimeSpan.FromSeconds(1);
        var loop = Task.Run(async () =>
        {
            using var timer = new PeriodicTimer(period);
            try
            {
                while (await timer.WaitForNextTickAsync(stop.Token))
                    if (!Quiet) WriteProgress(phase, Stopwatch.GetElapsedTime(start), newline: Console.IsOutputRedirected);
            }
            catch (OperationCanceledException) { }
        });
        return new AsyncDisposer(async () =>
        {
            stop.Cancel();
            await loop;
            if (!Quiet) WriteProgress(phase, Stopwatch.GetElapsedTime(start), newline: true);
        });
    }

    private void WriteProgress(string phase, TimeSpan elapsed, bool newline)
    {
        var m = Metrics;
        var auth = m.Summary("authorize");
        var sut = Sut.Last;
        var line = $"[{Scenario}/{phase} {elapsed:mm\\:ss}] connected {Fleet?.Connected ?? 0}/{Fleet?.Chargers.Count ?? 0}"
                   + $" | charges started {m.Counter("charges.started")} done {m.Counter("charges.completed")} failed {m.Counter("charges.failed")}"
                   + $" | hb {m.Counter("heartbeats")} | auth p99 {auth?.P99 ?? 0:0.#}ms | errors {m.TotalErrors}"
                   + (sut is null ? "" : $" | SUT cpu {sut.CpuPercent:0}% rss {sut.RssMb:0}MB")
                   + (ProgressExtra?.Invoke() ?? "");
        if (newline) Console.WriteLine(line);
        else Console.Write("\r" + line.PadRight(Math.Max(0, Math.Min(Console.BufferWidth - 1, 200))));
    }

    /// <summary>The ledger invariants at the end: REST /api/v1/ledger/invariants if it answers, else the ILedger store.</summary>
    public async Task<LedgerCheck?> CheckLedgerAsync()
    {
        var runSessions = Charges?.Sessions.ToHashSet(StringComparer.Ordinal) ?? [];
        // Its own deadline: the check also runs after the run was cut short by --max-seconds (Token cancelled).
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        var token = deadline.Token;
        if (Target.Api is { } api && !Options.Has("no-rest"))
        {
            try
            {
                using var http = new HttpClient { BaseAddress = api, Timeout = TimeSpan.FromSeconds(60) };
                using var response = await http.GetAsync("/api/v1/ledger/invariants", token);
                if (response.IsSuccessStatusCode)
                {
                    var body = await response.Content.ReadFromJsonAsync<JsonElement>(token);
                    bool B(string n) => body.TryGetProperty(n, out var v) && v.ValueKind == JsonValueKind.True;
                    long L(string n) => body.TryGetProperty(n, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt64() : 0;
                    var violations = body.TryGetProperty("violations", out var vs) && vs.ValueKind == JsonValueKind.Array ? vs.EnumerateArray().ToList() : [];
                    var mine = violations.Where(v => v.TryGetProperty("sessionId", out var s) && s.GetString() is { } id && runSessions.Contains(id)).ToList();
                    return new LedgerCheck("REST /api/v1/ledger/invariants", B("balanced"), L("totalDebits"), L("totalCredits"), (int)L("journals"),
                        violations.Count, mine.Count, mine.Take(10).Select(v => v.ToString()).ToList());
                }
            }
            catch (Exception) when (!token.IsCancellationRequested) { /* REST facade not there yet: read the store */ }
        }
        if (Target.Ledger is null) return null;
        var report = await Target.Ledger.CheckInvariantsAsync(token);
        var own = report.Violations.Where(v => v.SessionId is not null && runSessions.Contains(v.SessionId)).ToList();
        return new LedgerCheck("ILedger store (grains/Ledger)", report.Balanced, report.TotalDebits, report.TotalCredits, report.Journals,
            report.Violations.Count, own.Count, own.Take(10).Select(v => $"{v.Rule} {v.SessionId}: {v.Detail}").ToList());
    }

    public async Task<RunReport> FinishAsync()
    {
        var ledger = Options.Has("no-ledger") ? null : await CheckLedgerAsync();
        var report = new RunReport
        {
            Scenario = Scenario,
            RunId = RunId,
            StartedAt = StartedAt,
            MeasuredSeconds = Math.Round(MeasuredSeconds, 1),
            Settings = Options.All,
            Latencies = Metrics.Summaries(),
            Counters = Metrics.Counters,
            Errors = Metrics.Errors,
            Figures = Figures,
            SystemUnderTest = Sut.Summary(MeasureFrom),
            Driver = Driver?.Summary(MeasureFrom),
            Provider = Provider?.Summary(MeasureFrom),
            Ledger = ledger,
            Notes = Notes,
        };
        if (!Options.Has("no-report-files"))
        {
            var dir = Options.Get("reports", Path.Combine(FindRepoLoadTests(), "reports"));
            var path = report.Write(dir);
            if (!Quiet) Console.WriteLine($"report: {path}");
        }
        if (!Quiet) Console.WriteLine(report.ToMarkdown());
        return report;
    }

    private static string FindRepoLoadTests()
    {
        for (var d = new DirectoryInfo(Directory.GetCurrentDirectory()); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "EvCharge.LoadTests.csproj"))) return d.FullName;
            if (File.Exists(Path.Combine(d.FullName, "load-tests", "EvCharge.LoadTests.csproj"))) return Path.Combine(d.FullName, "load-tests");
        }
        return Directory.GetCurrentDirectory();
    }

    public async ValueTask DisposeAsync()
    {
        if (Fleet is not null) await Fleet.DisposeAsync();
        if (Phones is not null) await Phones.DisposeAsync();
        await Sut.DisposeAsync();
        if (Driver is not null) await Driver.DisposeAsync();
        if (Provider is not null) await Provider.DisposeAsync();
        _hardStop.Dispose();
    }

    private sealed class AsyncDisposer(Func<Task> dispose) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync() => await dispose();
    }
}
