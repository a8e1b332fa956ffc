using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Npgsql;

namespace EvCharge.IntegrationTests.Infrastructure;

/// <summary>
/// A throwaway PostgreSQL server for the test run, started from the machine's own binaries
/// (/usr/lib/postgresql/{version}/bin; <c>scripts/ensure-deps.sh</c> installs them) in a fresh temporary directory
/// on a free loopback port. PostgreSQL refuses to run as root, so when the tests run as root every server command
/// runs as the <c>postgres</c> OS user through <c>runuser</c>, and the directory is handed to that user.
/// Each test class asks for its own database with <see cref="CreateDatabaseAsync"/>, so tests never see each
/// other's rows and nothing needs cleaning between them: the whole directory is deleted at the end.
/// </summary>
public sealed class PostgresServer : IAsyncLifetime
{
    private const string OsUser = "postgres";
    private string? _root;
    private string? _bin;
    private int _databases;

    public int Port { get; private set; }

    /// <summary>
    /// Commits are acknowledged only once their WAL is written (synchronous_commit on), as in production: for tests that
    /// SIGKILL the server and count on every acknowledged commit surviving. fsync stays off: the machine does not crash.
    /// </summary>
    public bool DurableCommits { get; init; }
    private string? _startOptions;
    public string Host => "127.0.0.1";
    public string DataDirectory => Path.Combine(_root!, "data");
    public string SocketDirectory => _root!;

    /// <summary>Connection string to the maintenance database <c>postgres</c>.</summary>
    public string AdminConnectionString => ConnectionStringFor("postgres");

    public string ConnectionStringFor(string database) => new NpgsqlConnectionStringBuilder
    {
        Host = Host, Port = Port, Username = OsUser, Database = database,
        // Orleans, the ledger, the session store and a test's own data sources each keep a pool; keep them modest, and
        // let idle connections go soon, so a whole run's silos and stores do not add up past max_connections.
        MaxPoolSize = 50, Timeout = 30, CommandTimeout = 60, ConnectionIdleLifetime = 10, ConnectionPruningInterval = 5,
    }.ToString();

    public async Task InitializeAsync()
    {
        _bin = FindBinDirectory();
        _root = Path.Combine(Path.GetTempPath(), "evcharge-pg-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(_root);
        var asRoot = Environment.UserName == "root";
        if (asRoot) await RunAsync("chown", $"-R {OsUser}:{OsUser} {_root}", asPostgres: false);

        // --no-sync: initdb skips fsync of the fresh cluster; it is deleted at the end anyway.
        await RunAsync(Path.Combine(_bin, "initdb"),
            $"-D {DataDirectory} -U {OsUser} -A trust -E UTF8 --locale=C --no-sync", asPostgres: asRoot);

        // A port picked now can be taken before the server binds it; retry with another one.
        for (var attempt = 1; ; attempt++)
        {
            Port = FreeLoopbackPort();
            // fsync, synchronous_commit and full_page_writes off: crash safety buys nothing for a database that is
            // deleted after the run, and turning them off makes startup and every commit much faster on a shared
            // CI disk. The durability the product relies on is PostgreSQL's default, which production keeps.
            var options = string.Join(' ',
                $"-p {Port}", $"-k {SocketDirectory}", "-c listen_addresses=127.0.0.1",
                "-c fsync=off", DurableCommits ? "-c synchronous_commit=on" : "-c synchronous_commit=off", "-c full_page_writes=off",
                "-c max_connections=800", "-c shared_buffers=64MB", "-c log_min_messages=warning");
            try
            {
                await RunAsync(Path.Combine(_bin, "pg_ctl"),
                    $"-D {DataDirectory} -l {Path.Combine(_root, "server.log")} -o \"{options}\" -w -t 60 start", asPostgres: asRoot);
                _startOptions = options;
                break;
            }
            catch (InvalidOperationException) when (attempt < 3)
            {
                await Task.Delay(200);
            }
        }
        AppDomain.CurrentDomain.ProcessExit += (_, _) => StopQuietly();
    }

    /// <summary>SIGKILL to the postmaster and every backend at once: the server dies as in a crash, mid-transaction.</summary>
    public async Task KillAsync()
    {
        var postmaster = int.Parse(File.ReadLines(Path.Combine(DataDirectory, "postmaster.pid")).First());
        var children = Directory.EnumerateDirectories("/proc")
            .Select(d => int.TryParse(Path.GetFileName(d), out var pid) ? pid : 0)
            .Where(pid => pid > 0 && ParentOf(pid) == postmaster).ToList();
        foreach (var pid in children.Prepend(postmaster))
            try { System.Diagnostics.Process.GetProcessById(pid).Kill(); } catch (ArgumentException) { } catch (InvalidOperationException) { }
        for (var i = 0; i < 100 && Directory.Exists($"/proc/{postmaster}"); i++) await Task.Delay(50);
        NpgsqlConnection.ClearAllPools();
    }

    /// <summary>Starts the killed server again on the same data and port; PostgreSQL recovers from its WAL.</summary>
    public Task StartAgainAsync() =>
        RunAsync(Path.Combine(_bin!, "pg_ctl"), $"-D {DataDirectory} -l {Path.Combine(_root!, "server.log")} -o \"{_startOptions}\" -w -t 60 start",
            asPostgres: Environment.UserName == "root");

    private static int? ParentOf(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1]);
        }
        catch (IOException) { return null; }
    }

    /// <summary>Creates an empty database and returns a connection string to it.</summary>
    public async Task<string> CreateDatabaseAsync(string? name = null)
    {
        name ??= "db";
        var safe = new StringBuilder();
        foreach (var ch in name.ToLowerInvariant()) safe.Append(char.IsAsciiLetterOrDigit(ch) ? ch : '_');
        var db = $"{safe}_{Interlocked.Increment(ref _databases)}";
        if (db.Length > 60) db = db[^60..];
        await using var c = new NpgsqlConnection(AdminConnectionString);
        await c.OpenAsync();
        await using var cmd = new NpgsqlCommand($"CREATE DATABASE \"{db}\"", c);
        await cmd.ExecuteNonQueryAsync();
        return ConnectionStringFor(db);
    }

    public Task DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        StopQuietly();
        return Task.CompletedTask;
    }

    private void StopQuietly()
    {
        if (_root is null || _bin is null) return;
        try
        {
            // immediate: no checkpoint, nothing of this server is kept.
            if (File.Exists(Path.Combine(DataDirectory, "postmaster.pid")))
                RunAsync(Path.Combine(_bin, "pg_ctl"), $"-D {DataDirectory} -m immediate -w stop", asPostgres: Environment.UserName == "root")
                    .GetAwaiter().GetResult();
        }
        catch { /* best effort; the directory removal below still happens */ }
        try { Directory.Delete(_root, recursive: true); } catch { }
        _root = null;
    }

    private static string FindBinDirectory()
    {
        var env = Environment.GetEnvironmentVariable("EVCHARGE_PG_BIN");
        if (!string.IsNullOrEmpty(env) && File.Exists(Path.Combine(env, "initdb"))) return env;
        const string root = "/usr/lib/postgresql";
        var candidates = Directory.Exists(root)
            ? Directory.GetDirectories(root)
                .Select(d => (dir: Path.Combine(d, "bin"), version: int.TryParse(Path.GetFileName(d), out var v) ? v : 0))
                .Where(c => File.Exists(Path.Combine(c.dir, "initdb")) && File.Exists(Path.Combine(c.dir, "pg_ctl")))
                .OrderByDescending(c => c.version == 15).ThenByDescending(c => c.version)
                .ToList()
            : [];
        return candidates.Count > 0
            ? candidates[0].dir
            : throw new InvalidOperationException(
                "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin. Run scripts/ensure-deps.sh (installs the Debian postgresql package) or set EVCHARGE_PG_BIN.");
    }

    private static int FreeLoopbackPort() => EvCharge.IntegrationTests.Infrastructure.LoopbackPorts.Next();

    private static async Task RunAsync(string exe, string args, bool asPostgres)
    {
        var psi = asPostgres
            ? new ProcessStartInfo("runuser", $"-u {OsUser} -- {exe} {args}")
            : new ProcessStartInfo(exe, args);
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        psi.UseShellExecute = false;
        // pg_ctl's server inherits the environment; a cwd postgres can read avoids "could not change directory" noise.
        psi.WorkingDirectory = Path.GetTempPath();
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {exe}");
        // pg_ctl start leaves the server holding inherited stdout/stderr; read them without waiting for EOF.
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        p.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (stdout) stdout.AppendLine(e.Data); };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (stderr) stderr.AppendLine(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        await p.WaitForExitAsync(cts.Token);
        if (p.ExitCode != 0)
            throw new InvalidOperationException($"{exe} {args} exited with {p.ExitCode}: {stderr}{stdout}");
    }
}

/// <summary>One PostgreSQL server shared by every test class in the "postgres" collection.</summary>
[CollectionDefinition("postgres")]
public sealed class PostgresCollection : ICollectionFixture<PostgresServer>;
