using System.Collections.Concurrent;
using EvCharge.Sessions;
using EvCharge.Silo.Security;

namespace EvCharge.Silo.OperatorConsole;

public sealed record ChartBar(string Label, long Value, DateTimeOffset Start);

/// <summary>The console's charts: charges per hour over the last day, energy and revenue per day over the last two weeks.</summary>
public sealed record ChargeChartData(
    IReadOnlyList<ChartBar> ChargesPerHour, IReadOnlyList<ChartBar> EnergyWhPerDay, IReadOnlyList<ChartBar> RevenuePerDay,
    int SessionsRead, bool Truncated, DateTimeOffset TakenAt);

/// <summary>
/// Chart data from the session index's query interface (the same read model the session lists page through), so it
/// does not depend on how the index stores sessions. Buckets are Korean hours and days (KST, +09:00) by the
/// session's creation time, the time the index filters and pages on. A charge is a session that started a
/// transaction; revenue is what was captured less what was refunded. Reading is bounded (<see cref="MaxSessions"/>)
/// and cached per caller scope for <see cref="CacheFor"/>; the page says when the bound cut the window short.
/// </summary>
public sealed class ChargeCharts(ISessionIndex index, TimeProvider time)
{
    public const int MaxSessions = 20_000;
    public const int Days = 14;
    public static readonly TimeSpan CacheFor = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan Kst = TimeSpan.FromHours(9);
    private readonly ConcurrentDictionary<string, ChargeChartData> _cache = new();

    public async Task<ChargeChartData> GetAsync(CallerScope scope, CancellationToken ct = default)
    {
        var key = scope.IsOperator ? "*" : scope.CpoId ?? "";
        var now = time.GetUtcNow();
        if (_cache.TryGetValue(key, out var cached) && now - cached.TakenAt < CacheFor) return cached;

        var (firstDay, _) = Window(now);
        var sessions = new List<SessionSummary>();
        string? cursor = null;
        var truncated = false;
        do
        {
            var page = await index.QueryAsync(new SessionQuery(scope.IsOperator ? null : scope.CpoId, From: firstDay, To: now.AddMinutes(1),
                Limit: SessionQueryLimits.MaxLimit, Cursor: cursor), ct);
            sessions.AddRange(page.Items);
            cursor = page.NextCursor;
            if (sessions.Count >= MaxSessions && cursor is not null) { truncated = true; break; }
        } while (cursor is not null);

        var data = Build(sessions, now) with { Truncated = truncated };
        _cache[key] = data;
        return data;
    }

    /// <summary>Midnight KST <see cref="Days"/> - 1 days before today, and the start of the hour 23 hours ago.</summary>
    private static (DateTimeOffset FirstDay, DateTimeOffset FirstHour) Window(DateTimeOffset now)
    {
        var local = now.ToOffset(Kst);
        var today = new DateTimeOffset(local.Year, local.Month, local.Day, 0, 0, 0, Kst);
        var hour = new DateTimeOffset(local.Year, local.Month, local.Day, local.Hour, 0, 0, Kst);
        return (today.AddDays(-(Days - 1)), hour.AddHours(-23));
    }

    /// <summary>Pure bucketing, unit-tested: 24 hourly and <see cref="Days"/> daily bars, empty ones included.</summary>
    public static ChargeChartData Build(IReadOnlyCollection<SessionSummary> sessions, DateTimeOffset now)
    {
        var (firstDay, firstHour) = Window(now);
        var hours = Enumerable.Range(0, 24).Select(h => firstHour.AddHours(h)).ToList();
        var days = Enumerable.Range(0, Days).Select(d => firstDay.AddDays(d)).ToList();
        var charges = new long[hours.Count];
        var energy = new long[days.Count];
        var revenue = new long[days.Count];
        foreach (var s in sessions)
        {
            var created = s.CreatedAt.ToOffset(Kst);
            var h = (int)Math.Floor((created - firstHour).TotalHours);
            if (s.StartedAt is not null && h >= 0 && h < hours.Count) charges[h]++;
            var d = (int)Math.Floor((created - firstDay).TotalDays);
            if (d < 0 || d >= days.Count) continue;
            energy[d] += s.EnergyWh;
            revenue[d] += s.Captured - s.Refunded;
        }
        return new ChargeChartData(
            hours.Select((t, i) => new ChartBar(t.ToString("HH':00'"), charges[i], t)).ToList(),
            days.Select((t, i) => new ChartBar(t.ToString("MM-dd"), energy[i], t)).ToList(),
            days.Select((t, i) => new ChartBar(t.ToString("MM-dd"), revenue[i], t)).ToList(),
            sessions.Count, false, now);
    }
}
