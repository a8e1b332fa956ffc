using System.Net;
using EvCharge.IntegrationTests.Infrastructure;

namespace EvCharge.IntegrationTests.FirstRun;

/// <summary>
/// Issue 15: the README's first command on a fresh machine. The real silo process, started from an empty directory
/// with no configuration at all (embedded default, no API key, the shipped log levels), creates an operator key in
/// ./data/operator.key readable by its owner only, says where it is and where the console is, and accepts that key;
/// a second start keeps the same key. The output shows the start-up report, not per-call library lines.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")] // owner-only is a Unix file mode
public class FirstRunTests
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    [Fact]
    public async Task A_fresh_embedded_silo_creates_an_owner_only_operator_key_and_a_second_start_keeps_it()
    {
        var work = Directory.CreateTempSubdirectory("evc-first-run-").FullName;
        var ports = SiloPorts.Allocate();
        var keyFile = Path.Combine(work, "data", "operator.key");
        try
        {
            string key;
            await using (var silo = await SiloProcess.StartAsync("first", ports, new Dictionary<string, string>(), work, asShipped: true))
            {
                Assert.True(File.Exists(keyFile), silo.Tail());
                Assert.Equal(OwnerOnly, File.GetUnixFileMode(keyFile));
                key = (await File.ReadAllTextAsync(keyFile)).Trim();
                Assert.True(key.Length >= 32);

                using var anonymous = new HttpClient { BaseAddress = silo.BaseAddress };
                Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("api/v1/cpos")).StatusCode);
                using var withKey = new HttpClient { BaseAddress = silo.BaseAddress };
                withKey.DefaultRequestHeaders.Add("X-Api-Key", key);
                Assert.Equal(HttpStatusCode.OK, (await withKey.GetAsync("api/v1/cpos")).StatusCode);
                var put = await withKey.PutAsync("api/v1/cpos/cpo-first", new StringContent(
                    """{"name":"First","payeeAccount":"cpo-first-settlement","commission":{"basisPoints":1000},"tariffs":[{"tariffId":"std","pricePerKwh":300}]}""",
                    System.Text.Encoding.UTF8, "application/json"));
                Assert.Equal(HttpStatusCode.OK, put.StatusCode);
                // The console answers on the address the report gives: its sign-in page.
                Assert.Contains("Sign in to the EvCharge console", await anonymous.GetStringAsync("console/signin"));

                var log = await WaitForLogAsync(silo, "operator key");
                Assert.Contains($"HTTP:            http://127.0.0.1:{ports.Http}", log);
                Assert.Contains($"console:         http://127.0.0.1:{ports.Http}/console", log);
                Assert.Contains("database:        SQLite " + Path.Combine(work, "data", "evcharge.db"), log);
                Assert.Contains($"charger broker:  embedded MQTT broker on port {ports.Mqtt}", log);
                Assert.Contains("wallet provider: embedded social-sandbox", log);
                Assert.Contains($"the operator key in {keyFile} (created now, readable by its owner only)", log);
                Assert.DoesNotContain(key, log); // where the key is, never the key
                // Per-call library lines stay below the default level: Orleans placement's Polly attempts, HttpClient's request lines.
                Assert.DoesNotContain("Execution attempt", log);
                Assert.DoesNotContain("System.Net.Http.HttpClient", log);
                Assert.DoesNotContain("was challenged", log);
            }

            await using (var again = await SiloProcess.StartAsync("second", ports, new Dictionary<string, string>(), work, asShipped: true))
            {
                Assert.Equal(key, (await File.ReadAllTextAsync(keyFile)).Trim());
                Assert.Equal(OwnerOnly, File.GetUnixFileMode(keyFile));
                using var withKey = new HttpClient { BaseAddress = again.BaseAddress };
                withKey.DefaultRequestHeaders.Add("X-Api-Key", key);
                var cpo = await withKey.GetAsync("api/v1/cpos/cpo-first");
                Assert.Equal(HttpStatusCode.OK, cpo.StatusCode); // same key, and the data of the first run
                var log = await WaitForLogAsync(again, "kept from an earlier start");
                Assert.Contains(keyFile, log);
            }
        }
        finally
        {
            try { Directory.Delete(work, true); } catch (IOException) { }
        }
    }

    /// <summary>The silo's output once it contains <paramref name="text"/> (the report is written just after the server starts).</summary>
    private static async Task<string> WaitForLogAsync(SiloProcess silo, string text)
    {
        for (var i = 0; i < 100; i++)
        {
            var log = silo.Tail(10_000);
            if (log.Contains(text)) return log;
            await Task.Delay(100);
        }
        return silo.Tail(10_000);
    }
}
