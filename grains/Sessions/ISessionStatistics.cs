using EvCharge.Charging;

namespace EvCharge.Sessions;

/// <summary>Counts for dashboards and metrics ("sessions by state"); implemented by the session stores.</summary>
public interface ISessionStatistics
{
    Task<IReadOnlyDictionary<SessionState, long>> CountByStateAsync(CancellationToken ct = default);

    /// <summary>
    /// Sessions created in [<paramref name="from"/>, <paramref name="to"/>) grouped by <paramref name="bucket"/> of local
    /// time at a fixed <paramref name="utcOffset"/> (KST has no daylight saving), for one CPO or all: charges (sessions
    /// that started a transaction), energy delivered, and revenue (captured less refunded). Only buckets with sessions.
    /// </summary>
    Task<IReadOnlyList<SessionActivity>> ActivityAsync(DateTimeOffset from, DateTimeOffset to, TimeSpan bucket, TimeSpan utcOffset,
        string? cpoId, CancellationToken ct = default);
}

/// <summary>One bucket of <see cref="ISessionStatistics.ActivityAsync"/>; <paramref name="Start"/> is in the bucket's local offset.</summary>
public sealed record SessionActivity(DateTimeOffset Start, long Charges, long EnergyWh, long Revenue);

internal static class SessionStatisticsSql
{
    /// <summary>
    /// Both stores keep bucket arithmetic in whole microseconds since the epoch (SQLite's stored unit; PostgreSQL
    /// converts): bucket = floor((created + offset) / size).
    /// </summary>
    public static string Activity(string createdMicros, bool byCpo) => $"""
        SELECT ({createdMicros} + @offset) / @size AS period,
               SUM(CASE WHEN started_at IS NULL THEN 0 ELSE 1 END), SUM(energy_wh), SUM(captured - refunded)
        FROM sessions
        WHERE created_at >= @from AND created_at < @to{(byCpo ? " AND cpo_id = @cpo" : "")}
        GROUP BY 1 ORDER BY 1
        """;

    public static void AddActivityParameters(System.Data.Common.DbCommand cmd, TimeSpan bucket, TimeSpan offset, string? cpoId, object from, object to)
    {
        void Add(string name, object value)
        {
            var p = cmd.CreateParameter();
            p.ParameterName = "@" + name;
            p.Value = value;
            cmd.Parameters.Add(p);
        }
        Add("offset", offset.Ticks / 10);
        Add("size", bucket.Ticks / 10);
        Add("from", from);
        Add("to", to);
        if (cpoId is not null) Add("cpo", cpoId);
    }

    public static async Task<IReadOnlyList<SessionActivity>> ReadActivityAsync(System.Data.Common.DbCommand cmd, long sizeMicros, TimeSpan offset, CancellationToken ct)
    {
        var list = new List<SessionActivity>();
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct))
        {
            // The bucket number counts from the epoch in local wall-clock time.
            var wall = DateTime.SpecifyKind(DateTime.UnixEpoch.AddTicks(Convert.ToInt64(r.GetValue(0)) * sizeMicros * 10), DateTimeKind.Unspecified);
            list.Add(new SessionActivity(new DateTimeOffset(wall, offset), Convert.ToInt64(r.GetValue(1)),
                Convert.ToInt64(r.GetValue(2)), Convert.ToInt64(r.GetValue(3))));
        }
        return list;
    }

    public const string CountByState = "SELECT state, count(*) FROM sessions GROUP BY state";

    public static async Task<IReadOnlyDictionary<SessionState, long>> ReadAsync(System.Data.Common.DbCommand cmd, CancellationToken ct)
    {
        cmd.CommandText = CountByState;
        var counts = Enum.GetValues<SessionState>().ToDictionary(s => s, _ => 0L);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct))
            if (Enum.TryParse<SessionState>(r.GetString(0), out var s)) counts[s] = Convert.ToInt64(r.GetValue(1));
        return counts;
    }
}
