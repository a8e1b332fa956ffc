using System.Collections.Concurrent;
using EvCharge.Sessions;
using EvCharge.Silo.Security;

namespace EvCharge.Silo.OperatorConsole;

public sealed record ChartBar(string Label, long Value, DateTimeOffset Start);

/// <summary>The console's charts: charges per hour over the last day, energy and revenue per day over the last two weeks.</summary>
public sealed record ChargeChartData(
    IReadOnlyList<ChartBar> ChargesPerHour, IReadOnlyList<ChartBar> EnergyWhPerDay, IReadOnlyList<ChartBar> RevenuePerDay,
    long Sessions, DateTimeOffset TakenAt);

/// <summary>
/// Chart data aggregated by the session store (<see cref="ISessionStatistics.ActivityAsync"/>: one grouped query per
/// chart over the session rows, however many sessions the window holds). Buckets are Korean hours and days (KST,
/// +09:00) by the session's creation time, the time the session list filters and pages on. A charge is a session that
/// started a transaction; revenue is what was captured less what was refunded. Cached per caller scope for
/// <see cref="CacheFor"/>.
/// </summary>
public sealed class ChargeCharts(ISessionStatistics statistics, TimeProvider time)
{
    public const int Days = 14;
    public static readonly TimeSpan CacheFor = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan Kst = TimeSpan.FromHours(9);
    private readonly ConcurrentDictionary<string, ChargeChartData> _cache = new();

    public async Task<ChargeChartData> GetAsync(CallerScope scope, CancellationToken ct = default)
    {
        var key = scope.IsOperator ? "*" : scope.CpoId ?? "";
        var now = time.GetUtcNow();
        if (_cache.TryGetValue(key, out var cached) && now - cached.TakenAt < CacheFor) return cached;

        var cpo = scope.IsOperator ? null : scope.CpoId;
        var (firstDay, firstHour) = Window(now);
        var hours = await statistics.ActivityAsync(firstHour, now.AddMinutes(1), TimeSpan.FromHours(1), Kst, cpo, ct);
        var days = await statistics.ActivityAsync(firstDay, now.AddMinutes(1), TimeSpan.FromDays(1), Kst, cpo, ct);
        var data = Build(hours, days, now);
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

    /// <summary>Pure, unit-tested: 24 hourly and <see cref="Days"/> daily bars from the store's buckets, empty ones included.</summary>
    public static ChargeChartData Build(IReadOnlyList<SessionActivity> hourly, IReadOnlyList<SessionActivity> daily, DateTimeOffset now)
    {
        var (firstDay, firstHour) = Window(now);
        var byHour = hourly.ToDictionary(b => b.Start);
        var byDay = daily.ToDictionary(b => b.Start);
        var hours = Enumerable.Range(0, 24).Select(h => firstHour.AddHours(h)).ToList();
        var days = Enumerable.Range(0, Days).Select(d => firstDay.AddDays(d)).ToList();
        return new ChargeChartData(
            hours.Select(t => new ChartBar(t.ToString("HH':00'"), byHour.GetValueOrDefault(t)?.Charges ?? 0, t)).ToList(),
            days.Select(t => new ChartBar(t.ToString("MM-dd"), byDay.GetValueOrDefault(t)?.EnergyWh ?? 0, t)).ToList(),
            days.Select(t => new ChartBar(t.ToString("MM-dd"), byDay.GetValueOrDefault(t)?.Revenue ?? 0, t)).ToList(),
            daily.Sum(b => b.Charges), now);
    }
}
