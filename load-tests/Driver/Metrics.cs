using System.Collections.Concurrent;
using System.Diagnostics;
using HdrHistogram;

namespace EvCharge.LoadTests.Driver;

/// <summary>
/// Step latencies (HdrHistogram, microseconds), counters and errors by kind for one run. Thread-safe and
/// allocation-free on the recording path once a step's histogram exists.
/// </summary>
public sealed class Metrics
{
    /// <summary>Latencies above a minute are clamped (and counted as such) rather than thrown on.</summary>
    private const long MaxMicros = 60_000_000;

    private readonly ConcurrentDictionary<string, LongConcurrentHistogram> _histograms = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, StrongBox> _counters = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, StrongBox> _errors = new(StringComparer.Ordinal);

    private sealed class StrongBox { public long Value; }

    public static long Now => Stopwatch.GetTimestamp();

    public void Record(string step, long startTimestamp) => RecordMicros(step, (long)Stopwatch.GetElapsedTime(startTimestamp).TotalMicroseconds);

    public void RecordMicros(string step, long micros)
    {
        var h = _histograms.GetOrAdd(step, static _ => new LongConcurrentHistogram(1, MaxMicros, 3));
        h.RecordValue(Math.Clamp(micros, 1, MaxMicros));
    }

    public void Count(string name, long delta = 1) => Interlocked.Add(ref _counters.GetOrAdd(name, static _ => new StrongBox()).Value, delta);
    public long Counter(string name) => _counters.TryGetValue(name, out var b) ? Interlocked.Read(ref b.Value) : 0;

    public void Error(string kind) => Interlocked.Increment(ref _errors.GetOrAdd(kind, static _ => new StrongBox()).Value);
    public long TotalErrors => _errors.Values.Sum(b => Interlocked.Read(ref b.Value));

    public IReadOnlyDictionary<string, long> Errors => _errors.ToDictionary(kv => kv.Key, kv => Interlocked.Read(ref kv.Value.Value));
    public IReadOnlyDictionary<string, long> Counters => _counters.ToDictionary(kv => kv.Key, kv => Interlocked.Read(ref kv.Value.Value));

    public LatencySummary? Summary(string step) => _histograms.TryGetValue(step, out var h) ? LatencySummary.From(step, h.Copy()) : null;
    public IReadOnlyList<LatencySummary> Summaries() =>
        _histograms.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => LatencySummary.From(kv.Key, kv.Value.Copy())).ToList();
}

/// <summary>One step's latency distribution, in milliseconds.</summary>
public sealed record LatencySummary(string Step, long Count, double P50, double P95, double P99, double Max, double Mean)
{
    public static LatencySummary From(string step, HistogramBase h) => h.TotalCount == 0
        ? new(step, 0, 0, 0, 0, 0, 0)
        : new(step, h.TotalCount, Ms(h.GetValueAtPercentile(50)), Ms(h.GetValueAtPercentile(95)), Ms(h.GetValueAtPercentile(99)),
            Ms(h.GetMaxValue()), Math.Round(h.GetMean() / 1000.0, 2));

    private static double Ms(long micros) => Math.Round(micros / 1000.0, 2);
}
