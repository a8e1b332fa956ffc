using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace EvCharge.IntegrationTests.Bridge;

/// <summary>
/// A real Mosquitto process on a free loopback port, configured from charger-bridge/mosquitto's templates with a
/// generated password file and the EvCharge ACL. Needs the Debian mosquitto package (scripts/ensure-deps.sh).
/// </summary>
public sealed class MosquittoBroker : IAsyncDisposable
{
    public const string BridgeUser = "evc-bridge";
    public const string OperatorUser = "evc-operator";

    private readonly string _dir = Directory.CreateTempSubdirectory("evc-mosquitto-").FullName;
    private Process? _process;

    public int Port { get; private set; } = FreePort();
    public string BridgePassword { get; } = "bridge-" + Guid.NewGuid().ToString("N")[..12];
    private string PasswordFile => Path.Combine(_dir, "passwd");

    /// <summary>
    /// A free port below Linux's ephemeral range (32768+): a port the kernel hands out for port 0 can be taken again at
    /// once by another test's outgoing connections before Mosquitto binds it ("Address already in use").
    /// </summary>
    public static int FreePort() => EvCharge.IntegrationTests.Infrastructure.LoopbackPorts.Next();

    public static string? FindExecutable(string name) =>
        new[] { "/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin" }
            .Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);

    /// <summary>
    /// Starts Mosquitto; if it exits at once (typically: another test took the "free" port between our probe and its
    /// bind), tries again on a new port, at most ten times, and reports Mosquitto's own stderr if it still fails.
    /// </summary>
    public async Task StartAsync()
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await StartOnceAsync();
                return;
            }
            catch (InvalidOperationException) when (attempt < 10 && _process is { HasExited: true })
            {
                Port = FreePort();
            }
        }
    }

    private async Task StartOnceAsync()
    {
        var mosquitto = FindExecutable("mosquitto")
            ?? throw new InvalidOperationException("mosquitto is not installed; run scripts/ensure-deps.sh (Debian package mosquitto)");
        var templates = Path.Combine(AppContext.BaseDirectory, "mosquitto");
        if (!Directory.Exists(templates)) templates = FindTemplates();

        await RunPasswdAsync("-c", "-b", PasswordFile, BridgeUser, BridgePassword);
        var acl = Path.Combine(_dir, "acl");
        await File.WriteAllTextAsync(acl, (await File.ReadAllTextAsync(Path.Combine(templates, "acl.template")))
            .Replace("@BRIDGE_USER@", BridgeUser).Replace("@OPERATOR_USER@", OperatorUser));
        var conf = Path.Combine(_dir, "mosquitto.conf");
        await File.WriteAllTextAsync(conf, (await File.ReadAllTextAsync(Path.Combine(templates, "mosquitto.conf.template")))
            .Replace("@PORT@", Port.ToString()).Replace("@BIND_ADDRESS@", "127.0.0.1")
            .Replace("@PASSWORD_FILE@", PasswordFile).Replace("@ACL_FILE@", acl)
            // Started as root by the tests: keep root so it can read the generated files in our temp dir.
            .Replace("@EXTRA@", "user root"));

        _process = Process.Start(new ProcessStartInfo(mosquitto, $"-c {conf}")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        })!;
        var stderr = new System.Text.StringBuilder();
        _process.OutputDataReceived += (_, e) => { lock (stderr) stderr.AppendLine(e.Data); };
        _process.ErrorDataReceived += (_, e) => { lock (stderr) stderr.AppendLine(e.Data); };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        for (var i = 0; i < 100; i++)
        {
            if (_process.HasExited)
            {
                _process.WaitForExit(); // flush the stderr reader
                throw new InvalidOperationException($"mosquitto on port {Port} exited with {_process.ExitCode}: {stderr}");
            }
            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync(IPAddress.Loopback, Port);
                return;
            }
            catch (SocketException)
            {
                await Task.Delay(100);
            }
        }
        throw new TimeoutException("mosquitto did not start listening");
    }

    /// <summary>Adds a login and makes Mosquitto reload its password file (SIGHUP).</summary>
    public async Task AddUserAsync(string username, string password)
    {
        await RunPasswdAsync("-b", PasswordFile, username, password);
        using var kill = Process.Start(new ProcessStartInfo("kill", $"-HUP {_process!.Id}") { UseShellExecute = false })!;
        await kill.WaitForExitAsync();
        await Task.Delay(200);
    }

    private static async Task RunPasswdAsync(params string[] args)
    {
        var passwd = FindExecutable("mosquitto_passwd") ?? throw new InvalidOperationException("mosquitto_passwd is not installed");
        var psi = new ProcessStartInfo(passwd) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        await p.WaitForExitAsync();
        if (p.ExitCode != 0) throw new InvalidOperationException($"mosquitto_passwd failed: {await p.StandardError.ReadToEndAsync()}");
    }

    private static string FindTemplates()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "charger-bridge", "mosquitto");
            if (Directory.Exists(candidate)) return candidate;
        }
        throw new DirectoryNotFoundException("charger-bridge/mosquitto templates not found");
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }
        _process?.Dispose();
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }
}
