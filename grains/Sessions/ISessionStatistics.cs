using EvCharge.Charging;

namespace EvCharge.Sessions;

/// <summary>Counts for dashboards and metrics ("sessions by state"); implemented by the session stores.</summary>
public interface ISessionStatistics
{
    Task<IReadOnlyDictionary<SessionState, long>> CountByStateAsync(CancellationToken ct = default);
}

internal static class SessionStatisticsSql
{
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
