using System.Globalization;

namespace EvCharge.LoadTests.Driver;

/// <summary>
/// CPU time (user + system, in core-milliseconds) used by a process, or by every PostgreSQL process of one server,
/// between two readings of /proc. Per-charge costs divide this by the charges completed in the same interval, which
/// stays meaningful on a shared, noisy machine where throughput does not.
/// </summary>
public sealed class CpuMeter
{
    private const double MsPerTick = 10; // USER_HZ = 100
    private readonly Func<long> _read;
    private long _start;

    private CpuMeter(Func<long> read)
    {
        _read = read;
        _start = read();
    }

    public static CpuMeter ForProcess(int pid) => new(() => Ticks(pid, includeChildren: false));

    /// <summary>
    /// A PostgreSQL server: its postmaster and every live backend, plus what finished backends used (the postmaster's
    /// children time), so connections that come and go during the run are counted too.
    /// </summary>
    public static CpuMeter ForPostgres(int postmasterPid) => new(() =>
    {
        var total = Ticks(postmasterPid, includeChildren: true);
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
            if (int.TryParse(Path.GetFileName(dir), out var pid) && pid != postmasterPid && ParentOf(pid) == postmasterPid)
                total += Ticks(pid, includeChildren: false);
        return total;
    });

    /// <summary>Core-milliseconds since the last <see cref="Restart"/> (or creation).</summary>
    public double ElapsedCoreMs => (_read() - _start) * MsPerTick;

    public void Restart() => _start = _read();

    /// <summary>The postmaster of the server whose data directory holds postmaster.pid, if it is readable.</summary>
    public static int? PostmasterOf(string dataDirectory)
    {
        try
        {
            var first = File.ReadLines(Path.Combine(dataDirectory, "postmaster.pid")).FirstOrDefault();
            return int.TryParse(first, out var pid) ? pid : null;
        }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
    }

    /// <summary>The postmaster listening on a local port: the oldest process named postgres whose command line has "-p port".</summary>
    public static int? PostmasterOnPort(int port)
    {
        foreach (var dir in Directory.EnumerateDirectories("/proc").OrderBy(d => d.Length).ThenBy(d => d, StringComparer.Ordinal))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid)) continue;
            try
            {
                var cmd = File.ReadAllText(Path.Combine(dir, "cmdline")).Split('\0');
                if (cmd.Length == 0 || !cmd[0].EndsWith("postgres", StringComparison.Ordinal)) continue;
                for (var i = 0; i + 1 < cmd.Length; i++)
                    if (cmd[i] == "-p" && cmd[i + 1] == port.ToString(CultureInfo.InvariantCulture)) return pid;
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
        return null;
    }

    private static int? ParentOf(int pid)
    {
        var fields = Fields(pid);
        return fields is null ? null : int.Parse(fields[1], CultureInfo.InvariantCulture);
    }

    private static long Ticks(int pid, bool includeChildren)
    {
        var f = Fields(pid);
        if (f is null) return 0;
        // Fields after "(comm) ": state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14).
        var ticks = long.Parse(f[11], CultureInfo.InvariantCulture) + long.Parse(f[12], CultureInfo.InvariantCulture);
        if (includeChildren) ticks += long.Parse(f[13], CultureInfo.InvariantCulture) + long.Parse(f[14], CultureInfo.InvariantCulture);
        return ticks;
    }

    private static string[]? Fields(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        }
        catch (IOException) { return null; }
    }
}
