using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace EvCharge.IntegrationTests.Infrastructure;

/// <summary>
/// The loopback ports of one silo process. A restarted silo reuses them (chargers know one address). With an external
/// broker <see cref="Mqtt"/> is the broker's port, which the bridge connects to.
/// </summary>
public sealed record SiloPorts(int Http, int Silo, int Gateway, int Mqtt, int WebSocket)
{
    public static SiloPorts Allocate() => new(FreePort(), FreePort(), FreePort(), FreePort(), FreePort());

    public static int FreePort() => EvCharge.IntegrationTests.Infrastructure.LoopbackPorts.Next();
}

/// <summary>
/// The real silo (<c>EvCharge.Silo.dll</c>, copied to the test output through the ProjectReference) started as a
/// child process with <c>dotnet EvCharge.Silo.dll --Key=Value ...</c>, exactly as an operator would start it, on
/// loopback ports of its own. Configuration goes on the command line (the same keys as appsettings.json and
/// <c>Section__Key</c> environment variables, docs/operations.md). Stdout/stderr go to <see cref="LogFile"/>.
/// <see cref="Kill"/> is SIGKILL: no shutdown hooks run, the way a crash or an OOM kill ends a process.
/// </summary>
public sealed class SiloProcess : IAsyncDisposable
{
    /// <summary>Operator API key configured on every test silo (Auth:ApiKeys:0).</summary>
    public const string OperatorApiKey = "durability-tests-operator-key-7f3a";

    private readonly Process _process;
    private readonly StreamWriter _log;
    private readonly object _logLock = new();

    private SiloProcess(string name, SiloPorts ports, Process process, StreamWriter log, string logFile)
    {
        Name = name;
        Ports = ports;
        _process = process;
        _log = log;
        LogFile = logFile;
        BaseAddress = new Uri($"http://127.0.0.1:{ports.Http}/");
        Api = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        Api.DefaultRequestHeaders.Add("X-Api-Key", OperatorApiKey);
    }

    /// <summary>Upper bound on one silo process's life; no test needs it that long.</summary>
    public const int MaxLifetimeSeconds = 600;

    public string Name { get; }
    public SiloPorts Ports { get; }
    public string LogFile { get; }
    public Uri BaseAddress { get; }
    /// <summary>HTTP client for the silo's REST facade, authenticated as an operator.</summary>
    public HttpClient Api { get; }
    public int ProcessId => _process.Id;
    public bool HasExited => _process.HasExited;

    public static string SiloDll
    {
        get
        {
            var dll = Path.Combine(AppContext.BaseDirectory, "EvCharge.Silo.dll");
            return File.Exists(dll) ? dll : throw new FileNotFoundException("EvCharge.Silo.dll is not in the test output; the test project references silo/ for it.", dll);
        }
    }

    /// <summary>
    /// Starts the silo and waits (bounded) until <c>/health/ready</c> answers 200 (database, wallet provider and MQTT
    /// broker reachable) and the MQTT port accepts connections. Throws with the log's tail if it does not get there.
    /// </summary>
    /// <param name="asShipped">
    /// Leave out the test defaults' API key and log levels, so the silo runs on what the code itself defaults to
    /// (the first-run test: no configured key, the shipped log levels).
    /// </param>
    public static async Task<SiloProcess> StartAsync(string name, SiloPorts ports, IReadOnlyDictionary<string, string> settings,
        string workDirectory, TimeSpan? readyTimeout = null, bool asShipped = false)
    {
        Directory.CreateDirectory(workDirectory);
        // coreutils timeout bounds the silo's life even if the test host itself is killed before it can dispose us.
        var psi = new ProcessStartInfo("timeout")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = false,
            // The content root is the working directory: an empty one, so no appsettings.json is read and the
            // test's settings below are the whole configuration on top of the code's defaults.
            WorkingDirectory = workDirectory,
        };
        foreach (var arg in new[] { "-s", "KILL", MaxLifetimeSeconds.ToString(), "dotnet", SiloDll }) psi.ArgumentList.Add(arg);
        var defaults = Defaults(ports).Where(d => !asShipped || !(d.Key.StartsWith("Auth:") || d.Key.StartsWith("Logging:")));
        foreach (var (key, value) in defaults.Concat(settings).GroupBy(p => p.Key).Select(g => g.Last()))
            psi.ArgumentList.Add($"--{key}={value}");
        psi.Environment["DOTNET_ENVIRONMENT"] = "Production";
        psi.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        psi.Environment.Remove("ASPNETCORE_URLS");
        psi.Environment["DOTNET_gcServer"] = "0"; // four silos on two cores: keep each one's heaps small

        var logFile = Path.Combine(workDirectory, $"{name}-{DateTime.UtcNow:HHmmssfff}.log");
        var log = new StreamWriter(logFile, append: false, Encoding.UTF8) { AutoFlush = true };
        var process = new Process { StartInfo = psi, EnableRaisingEvents = true };
        if (!process.Start()) throw new InvalidOperationException("dotnet did not start");
        var silo = new SiloProcess(name, ports, process, log, logFile);
        process.OutputDataReceived += (_, e) => silo.Append(e.Data);
        process.ErrorDataReceived += (_, e) => silo.Append(e.Data is null ? null : "ERR " + e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await silo.WaitUntilReadyAsync(readyTimeout ?? TimeSpan.FromSeconds(120));
        }
        catch
        {
            await silo.DisposeAsync();
            throw;
        }
        return silo;
    }

    /// <summary>Settings every test silo gets; a test's own settings override them.</summary>
    private static IEnumerable<KeyValuePair<string, string>> Defaults(SiloPorts ports) => new Dictionary<string, string>
    {
        ["urls"] = $"http://127.0.0.1:{ports.Http}",
        ["Storage:SiloPort"] = ports.Silo.ToString(),
        ["Storage:GatewayPort"] = ports.Gateway.ToString(),
        ["ChargerBridge:Port"] = ports.Mqtt.ToString(),
        ["ChargerBridge:TlsPort"] = SiloPorts.FreePort().ToString(),
        ["ChargerBridge:WebSocket:Port"] = ports.WebSocket.ToString(),
        ["ChargerBridge:ReconnectMinMilliseconds"] = "100",
        ["ChargerBridge:ReconnectMaxMilliseconds"] = "1000",
        ["ChargerBridge:PasswordCacheSeconds"] = "1",
        ["Auth:ApiKeys:0:Key"] = OperatorApiKey,
        ["Auth:ApiKeys:0:Role"] = "Operator",
        ["Auth:ApiKeys:0:Name"] = "durability-tests",
        ["Logging:LogLevel:Default"] = "Information",
        ["Logging:LogLevel:Microsoft.AspNetCore"] = "Warning",
        ["Logging:LogLevel:System.Net.Http"] = "Warning",
        ["Logging:LogLevel:Polly"] = "Warning",
        ["Logging:LogLevel:Orleans"] = "Warning",
    };

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_logLock)
        {
            try { _log.WriteLine(line); } catch (ObjectDisposedException) { }
        }
    }

    private async Task WaitUntilReadyAsync(TimeSpan timeout)
    {
        using var probe = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(5) };
        var deadline = DateTime.UtcNow + timeout;
        string last = "no answer";
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited)
                throw new InvalidOperationException($"silo {Name} exited with {_process.ExitCode} before it was ready.\n{Tail()}");
            try
            {
                using var response = await probe.GetAsync("health/ready");
                last = $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}";
                if (response.IsSuccessStatusCode && await PortOpenAsync(Ports.Mqtt)) return;
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                last = ex.GetType().Name;
            }
            await Task.Delay(250);
        }
        throw new TimeoutException($"silo {Name} not ready within {timeout} (last /health/ready: {last}).\n{Tail()}");
    }

    private static async Task<bool> PortOpenAsync(int port)
    {
        try
        {
            using var client = new TcpClient();
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await client.ConnectAsync(IPAddress.Loopback, port, cts.Token);
            return true;
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>SIGKILL the silo (and anything it started) and wait until it is gone.</summary>
    public async Task KillAsync()
    {
        if (!_process.HasExited)
        {
            Append("=== SIGKILL from test ===");
            _process.Kill(entireProcessTree: true);
        }
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await _process.WaitForExitAsync(cts.Token);
    }

    /// <summary>The last lines of the silo's output, for assertion messages.</summary>
    public string Tail(int lines = 60)
    {
        lock (_logLock)
        {
            try
            {
                using var read = new FileStream(LogFile, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
                using var reader = new StreamReader(read);
                var all = reader.ReadToEnd().Split('\n');
                return $"--- {LogFile} (last {lines} lines) ---\n" + string.Join('\n', all.TakeLast(lines));
            }
            catch (IOException ex)
            {
                return $"(log {LogFile} unreadable: {ex.Message})";
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await KillAsync();
        }
        catch (Exception ex) when (ex is InvalidOperationException or OperationCanceledException) { }
        Api.Dispose();
        lock (_logLock) _log.Dispose();
        _process.Dispose();
    }
}
