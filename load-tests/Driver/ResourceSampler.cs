using System.Globalization;

namespace EvCharge.LoadTests.Driver;

/// <summary>
/// CPU and memory of a process from /proc/&lt;pid&gt;/stat (utime+stime) and /proc/&lt;pid&gt;/status (VmRSS, Threads),
/// sampled once a second by one loop. CPU is in percent of one core (200% = both cores of this machine).
/// </summary>
public sealed class ResourceSampler : IAsyncDisposable
{
    private static readonly double TicksPerSecond = 100; // USER_HZ on Linux
    private readonly int _pid;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private readonly List<ResourceSample> _samples = [];

    public ResourceSampler(int pid, TimeSpan? period = null)
    {
        _pid = pid;
        _loop = RunAsync(period ?? TimeSpan.FromSeconds(1));
    }

    public int Pid => _pid;
    public ResourceSample? Last { get { lock (_samples) return _samples.Count > 0 ? _samples[^1] : null; } }
    public IReadOnlyList<ResourceSample> Samples { get { lock (_samples) return _samples.ToList(); } }

    public static (long CpuTicks, long RssKb, int Threads)? Read(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            // After "(comm) ": state is field 3, so utime (14) and stime (15) are at offsets 11 and 12.
            var cpu = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            long rss = 0; var threads = 0;
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal)) rss = long.Parse(line.AsSpan(6).Trim().ToString().Split(' ')[0], CultureInfo.InvariantCulture);
                else if (line.StartsWith("Threads:", StringComparison.Ordinal)) threads = int.Parse(line.AsSpan(8).Trim(), CultureInfo.InvariantCulture);
            }
            return (cpu, rss, threads);
        }
        catch (Exception) { return null; }
    }

    private async Task RunAsync(TimeSpan period)
    {
        var prev = Read(_pid);
        var prevAt = Metrics.Now;
        using var timer = new PeriodicTimer(period);
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token))
            {
                var now = Read(_pid);
                var at = Metrics.Now;
                if (now is null || prev is null) { prev = now; prevAt = at; continue; }
                var seconds = System.Diagnostics.Stopwatch.GetElapsedTime(prevAt, at).TotalSeconds;
                // A starved sampler (the driver itself saturated) can tick twice in a row: /proc's CPU counters move
                // in 10 ms steps, so a near-zero interval would read as thousands of percent. Wait for a full one.
                if (seconds < period.TotalSeconds / 2) continue;
                var cpu = (now.Value.CpuTicks - prev.Value.CpuTicks) / TicksPerSecond / seconds * 100;
                lock (_samples) _samples.Add(new ResourceSample(DateTimeOffset.UtcNow, Math.Round(cpu, 1), now.Value.RssKb / 1024.0, now.Value.Threads));
                prev = now; prevAt = at;
            }
        }
        catch (OperationCanceledException) { }
    }

    public ResourceSummary Summary(DateTimeOffset? from = null)
    {
        var s = Samples.Where(x => from is null || x.At >= from).ToList();
        if (s.Count == 0) return new ResourceSummary(_pid, 0, 0, 0, 0, 0);
        return new ResourceSummary(_pid, Math.Round(s.Average(x => x.CpuPercent), 1), s.Max(x => x.CpuPercent),
            Math.Round(s.Max(x => x.RssMb), 1), Math.Round(s[^1].RssMb, 1), s.Max(x => x.Threads));
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        await _loop;
    }
}

public sealed record ResourceSample(DateTimeOffset At, double CpuPercent, double RssMb, int Threads);

public sealed record ResourceSummary(int Pid, double CpuAvgPercent, double CpuMaxPercent, double RssMaxMb, double RssEndMb, int ThreadsMax);
