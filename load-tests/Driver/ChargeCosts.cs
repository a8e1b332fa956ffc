using Npgsql;

namespace EvCharge.LoadTests.Driver;

/// <summary>
/// What the measured part of a charging run cost, per completed charge: core-milliseconds of the silo, of every
/// PostgreSQL process, of the wallet provider and of this driver (from /proc, the same interval for all), and
/// PostgreSQL commits and statements. On a shared, noisy machine these ratios hold where throughput and latency do not.
/// </summary>
public sealed class ChargeCosts
{
    private readonly List<(string Name, CpuMeter Meter)> _meters = [];
    private readonly string? _postgres;
    private (long Commits, long? Statements)? _pgBefore;

    private ChargeCosts(string? postgres) => _postgres = postgres;

    public static Task<ChargeCosts> StartAsync(Target target, CancellationToken ct)
    {
        var processes = new List<(string, int)>();
        if (target.SutPid is > 0 and var sut && sut != Environment.ProcessId) processes.Add(("silo", sut));
        if (target.ProviderPid is > 0 and var provider) processes.Add(("wallet provider", provider));
        processes.Add(("load driver", Environment.ProcessId));
        return StartAsync(target.Postgres, processes, ct);
    }

    /// <summary>Meters the named processes, and the PostgreSQL server of <paramref name="postgres"/> (all its processes) when given.</summary>
    public static async Task<ChargeCosts> StartAsync(string? postgres, IEnumerable<(string Name, int Pid)> processes, CancellationToken ct)
    {
        var costs = new ChargeCosts(postgres);
        foreach (var (name, pid) in processes) costs._meters.Add((name, CpuMeter.ForProcess(pid)));
        if (postgres is not null && CpuMeter.PostmasterOnPort(new NpgsqlConnectionStringBuilder(postgres).Port) is { } postmaster)
            costs._meters.Add(("postgresql", CpuMeter.ForPostgres(postmaster)));
        costs._pgBefore = await costs.PostgresCountersAsync(ct);
        return costs;
    }

    public async Task ReportAsync(IDictionary<string, double> figures, long charges, CancellationToken ct)
    {
        if (charges <= 0) return;
        var server = 0.0;
        foreach (var (name, meter) in _meters)
        {
            var perCharge = meter.ElapsedCoreMs / charges;
            figures[$"core-ms per charge: {name}"] = Math.Round(perCharge, 2);
            if (name is "silo" or "postgresql") server += perCharge;
        }
        if (_meters.Any(m => m.Name == "silo")) figures["core-ms per charge: server (silo + postgresql)"] = Math.Round(server, 2);
        if (_pgBefore is { } before && await PostgresCountersAsync(ct) is { } after)
        {
            figures["postgresql commits per charge (all, reads included)"] = Math.Round((after.Commits - before.Commits) / (double)charges, 2);
            if (after.Statements is { } s1 && before.Statements is { } s0)
                figures["postgresql statements per charge (pg_stat_statements)"] = Math.Round((s1 - s0) / (double)charges, 2);
        }
    }

    private async Task<(long Commits, long? Statements)?> PostgresCountersAsync(CancellationToken ct)
    {
        if (_postgres is null) return null;
        try
        {
            await using var c = new NpgsqlConnection(_postgres);
            await c.OpenAsync(ct);
            await using var cmd = new NpgsqlCommand("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()", c);
            var commits = (long)(await cmd.ExecuteScalarAsync(ct))!;
            long? statements = null;
            try
            {
                await using var s = new NpgsqlCommand(
                    "SELECT COALESCE(sum(calls), 0)::bigint FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())", c);
                statements = (long)(await s.ExecuteScalarAsync(ct))!;
            }
            catch (PostgresException) { } // pg_stat_statements is not loaded: statements are not counted by the server
            return (commits, statements);
        }
        catch (Exception) when (!ct.IsCancellationRequested) { return null; }
    }
}
