using System.Globalization;
using System.Text;
using System.Text.Json;
using EvCharge.LoadTests.Driver;

namespace EvCharge.LoadTests.Reporting;

public sealed record LedgerCheck(string Source, bool Balanced, long TotalDebits, long TotalCredits, int Journals,
    int Violations, int RunViolations, IReadOnlyList<string> Samples)
{
    public bool Ok => Balanced && RunViolations == 0;
}

/// <summary>What a run measured; printed and written as Markdown, CSV and JSON under load-tests/reports/.</summary>
public sealed class RunReport
{
    public required string Scenario { get; init; }
    public required string RunId { get; init; }
    public required DateTimeOffset StartedAt { get; init; }
    public required double MeasuredSeconds { get; init; }
    public required IReadOnlyDictionary<string, string?> Settings { get; init; }
    public required IReadOnlyList<LatencySummary> Latencies { get; init; }
    public required IReadOnlyDictionary<string, long> Counters { get; init; }
    public required IReadOnlyDictionary<string, long> Errors { get; init; }
    public required IReadOnlyDictionary<string, double> Figures { get; init; }
    public ResourceSummary? SystemUnderTest { get; init; }
    public ResourceSummary? Driver { get; init; }
    public ResourceSummary? Provider { get; init; }
    public LedgerCheck? Ledger { get; init; }
    public IReadOnlyList<string> Notes { get; init; } = [];
    public long TotalErrors => Errors.Values.Sum();

    private static string F(double v) => v.ToString("0.##", CultureInfo.InvariantCulture);

    public string ToMarkdown()
    {
        var sb = new StringBuilder();
        sb.AppendLine($"# Load run `{Scenario}` ({RunId})").AppendLine();
        sb.AppendLine($"Started {StartedAt:yyyy-MM-dd HH:mm:ss}Z, measured {F(MeasuredSeconds)} s. Settings: "
                      + string.Join(", ", Settings.Select(kv => kv.Value is null ? $"`--{kv.Key}`" : $"`--{kv.Key} {kv.Value}`")) + ".").AppendLine();
        sb.AppendLine("## Figures").AppendLine().AppendLine("| figure | value |").AppendLine("|---|---:|");
        foreach (var (k, v) in Figures) sb.AppendLine($"| {k} | {F(v)} |");
        sb.AppendLine().AppendLine("## Latency (ms, HdrHistogram)").AppendLine();
        sb.AppendLine("| step | count | p50 | p95 | p99 | max | mean |").AppendLine("|---|---:|---:|---:|---:|---:|---:|");
        foreach (var l in Latencies) sb.AppendLine($"| {l.Step} | {l.Count} | {F(l.P50)} | {F(l.P95)} | {F(l.P99)} | {F(l.Max)} | {F(l.Mean)} |");
        sb.AppendLine().AppendLine("## Counters").AppendLine().AppendLine("| counter | value |").AppendLine("|---|---:|");
        foreach (var (k, v) in Counters.OrderBy(kv => kv.Key, StringComparer.Ordinal)) sb.AppendLine($"| {k} | {v} |");
        sb.AppendLine().AppendLine($"## Errors by kind ({TotalErrors})").AppendLine();
        if (Errors.Count == 0) sb.AppendLine("none");
        else
        {
            sb.AppendLine("| kind | count |").AppendLine("|---|---:|");
            foreach (var (k, v) in Errors.OrderByDescending(kv => kv.Value)) sb.AppendLine($"| {k} | {v} |");
        }
        sb.AppendLine().AppendLine("## Resources").AppendLine().AppendLine("| process | pid | CPU avg % | CPU max % | RSS max MB | RSS end MB | threads max |").AppendLine("|---|---:|---:|---:|---:|---:|---:|");
        foreach (var (name, r) in new[] { ("system under test", SystemUnderTest), ("wallet provider (sandbox)", Provider), ("load driver", Driver) })
            if (r is not null) sb.AppendLine($"| {name} | {r.Pid} | {F(r.CpuAvgPercent)} | {F(r.CpuMaxPercent)} | {F(r.RssMaxMb)} | {F(r.RssEndMb)} | {r.ThreadsMax} |");
        sb.AppendLine().AppendLine("CPU is percent of one core; this machine has " + Environment.ProcessorCount + ".").AppendLine();
        sb.AppendLine("## Ledger invariants").AppendLine();
        if (Ledger is null) sb.AppendLine("not checked (no ledger store or REST API given)");
        else
        {
            sb.AppendLine($"{(Ledger.Ok ? "OK" : "NOT OK")} via {Ledger.Source}: balanced={Ledger.Balanced} (debits {Ledger.TotalDebits}, credits {Ledger.TotalCredits}), "
                          + $"{Ledger.Journals} journals, {Ledger.Violations} violations overall, {Ledger.RunViolations} for this run's sessions.");
            foreach (var s in Ledger.Samples) sb.AppendLine($"- {s}");
        }
        if (Notes.Count > 0)
        {
            sb.AppendLine().AppendLine("## Notes").AppendLine();
            foreach (var n in Notes) sb.AppendLine("- " + n);
        }
        return sb.ToString();
    }

    public string ToCsv()
    {
        var sb = new StringBuilder("kind,name,count,p50_ms,p95_ms,p99_ms,max_ms,mean_ms,value\n");
        foreach (var l in Latencies) sb.AppendLine($"latency,{l.Step},{l.Count},{F(l.P50)},{F(l.P95)},{F(l.P99)},{F(l.Max)},{F(l.Mean)},");
        foreach (var (k, v) in Figures) sb.AppendLine($"figure,{k},,,,,,,{F(v)}");
        foreach (var (k, v) in Counters) sb.AppendLine($"counter,{k},,,,,,,{v}");
        foreach (var (k, v) in Errors) sb.AppendLine($"error,{k},,,,,,,{v}");
        return sb.ToString();
    }

    /// <summary>Writes {scenario}-{runId}.md/.csv/.json into <paramref name="directory"/>; returns the Markdown path.</summary>
    public string Write(string directory)
    {
        Directory.CreateDirectory(directory);
        var stem = Path.Combine(directory, $"{StartedAt:yyyyMMdd-HHmmss}-{Scenario}-{RunId}");
        File.WriteAllText(stem + ".md", ToMarkdown());
        File.WriteAllText(stem + ".csv", ToCsv());
        File.WriteAllText(stem + ".json", JsonSerializer.Serialize(this, new JsonSerializerOptions { WriteIndented = true }));
        return stem + ".md";
    }
}
