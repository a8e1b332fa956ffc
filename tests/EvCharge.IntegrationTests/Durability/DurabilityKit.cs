using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using EvCharge.IntegrationTests.Bridge;
using EvCharge.IntegrationTests.Infrastructure;
using EvCharge.SocialSandbox;
using static EvCharge.IntegrationTests.Bridge.Frames;

namespace EvCharge.IntegrationTests.Durability;

/// <summary>
/// What the durability tests share: silo settings per profile, the operator's REST calls, a charger that behaves like a
/// real one across server restarts (reconnects, resends unanswered transaction messages), and the checks.
/// </summary>
internal static class DurabilityKit
{
    public const string TariffId = "std";
    public const long PricePerKwh = 300;
    public const long Hold = 30_000;
    public static readonly DateTimeOffset T0 = new(2026, 11, 25, 1, 0, 0, TimeSpan.Zero);

    public static Dictionary<string, string> Sqlite(string dataDirectory) => new()
    {
        ["Storage:Provider"] = "Sqlite",
        ["Storage:DataDirectory"] = dataDirectory,
    };

    public static Dictionary<string, string> Postgres(string connectionString) => new()
    {
        ["Storage:Provider"] = "Postgres",
        ["Storage:ConnectionString"] = connectionString,
    };

    public static Dictionary<string, string> With(this Dictionary<string, string> settings, IReadOnlyDictionary<string, string> more)
    {
        foreach (var (k, v) in more) settings[k] = v;
        return settings;
    }

    /// <summary>The wallet provider is the test's own sandbox (so it outlives silo processes and can be inspected).</summary>
    public static Dictionary<string, string> ExternalSandbox(this Dictionary<string, string> settings, Uri sandbox) =>
        settings.With(new Dictionary<string, string> { ["Payments:ProviderUrl"] = sandbox.ToString() });

    /// <summary>Short session timeouts, and an Orleans reminder minimum below the watchdog period (default is one minute).</summary>
    public static Dictionary<string, string> FastWatchdog(this Dictionary<string, string> settings, TimeSpan stopTimeout) =>
        settings.With(new Dictionary<string, string>
        {
            ["EvCharge:StopTimeout"] = stopTimeout.ToString("c"),
            ["EvCharge:StartTimeout"] = stopTimeout.ToString("c"),
            ["EvCharge:WatchdogPeriod"] = "00:00:01",
            ["Silo:Reminders:MinimumReminderPeriod"] = "00:00:01",
        });

    /// <summary>A sandbox in the test process, durable in a data file.</summary>
    public static Task<RunningSandbox> StartSandboxAsync(string directory) =>
        SocialSandboxHost.StartAsync(new SandboxOptions { DataFile = Path.Combine(directory, "sandbox.jsonl") });

    // ---- operator REST calls ----

    public static async Task SetUpCpoAsync(HttpClient api, string cpoId)
    {
        var response = await api.PutAsJsonAsync($"api/v1/cpos/{cpoId}", new
        {
            name = cpoId,
            payeeAccount = $"{cpoId}-settlement",
            commission = new { basisPoints = 1_000, fixedPerSession = 0 },
            tariffs = new[] { new { tariffId = TariffId, pricePerKwh = PricePerKwh } },
        });
        await EnsureOk(response, $"PUT cpo {cpoId}");
    }

    public static string PasswordFor(string chargerId) => $"pw-{chargerId}-0123456789";

    public static async Task RegisterChargerAsync(HttpClient api, string cpoId, string chargerId)
    {
        var response = await api.PutAsJsonAsync($"api/v1/chargers/{chargerId}", new
        {
            cpoId, connectorCount = 1, tariffId = TariffId, holdAmount = Hold, password = PasswordFor(chargerId),
        });
        await EnsureOk(response, $"PUT charger {chargerId}");
    }

    public static async Task<JsonElement> SessionAsync(HttpClient api, string sessionId)
    {
        var response = await api.GetAsync($"api/v1/sessions/{sessionId}");
        await EnsureOk(response, $"GET session {sessionId}");
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("session");
    }

    /// <summary>Polls the session over REST (bounded) until it is in <paramref name="state"/>; returns the last view either way.</summary>
    public static async Task<JsonElement> WaitForSessionAsync(HttpClient api, string sessionId, string state, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        JsonElement view = default;
        while (true)
        {
            try
            {
                view = await SessionAsync(api, sessionId);
                if (view.GetProperty("state").GetString() == state || DateTime.UtcNow > deadline) return view;
            }
            catch (Exception) when (DateTime.UtcNow < deadline) { } // a silo busy failing over answers 5xx for a moment
            await Task.Delay(250);
        }
    }

    public static async Task<JsonElement> InvariantsAsync(HttpClient api)
    {
        var response = await api.GetAsync("api/v1/ledger/invariants");
        await EnsureOk(response, "GET ledger invariants");
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    /// <summary>Debits = credits and no invariant is broken, for the whole ledger of this test's database.</summary>
    public static async Task AssertLedgerBalancedAsync(HttpClient api)
    {
        var report = await InvariantsAsync(api);
        Assert.True(report.GetProperty("balanced").GetBoolean(),
            $"ledger unbalanced: debits {report.GetProperty("totalDebits")} credits {report.GetProperty("totalCredits")}");
        var violations = report.GetProperty("violations");
        Assert.True(violations.GetArrayLength() == 0, $"ledger invariants broken: {violations}");
    }

    private static async Task EnsureOk(HttpResponseMessage response, string what)
    {
        if (!response.IsSuccessStatusCode)
            throw new HttpRequestException($"{what}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    // ---- sandbox checks ----

    /// <summary>Exactly one authorization for the order (the session id), captured once for the expected amount.</summary>
    public static void AssertCapturedOnce(RunningSandbox sandbox, string sessionId, long expected)
    {
        var auths = sandbox.Store.FindAuthorizations(sessionId, null);
        var auth = Assert.Single(auths);
        Assert.Equal(AuthorizationStatus.Captured, auth.Status);
        Assert.Equal(expected, auth.Captured);
    }

    // ---- OCPP frames ----

    public static object PaymentAuthorize(string code) => new
    {
        vendorId = "kr.evcharge",
        messageId = "PaymentAuthorize",
        data = JsonSerializer.Serialize(new { connectorId = 1, provider = "kakaopay", paymentCode = code }),
    };

    public static object Meter(int transactionId, long wh, int minute) => new
    {
        connectorId = 1,
        transactionId,
        meterValue = new[]
        {
            new
            {
                timestamp = Timestamp(T0.AddMinutes(minute)),
                sampledValue = new[] { new { value = (wh / 1000.0).ToString("0.###", CultureInfo.InvariantCulture), measurand = "Energy.Active.Import.Register", unit = "kWh" } },
            },
        },
    };

    public static object Stop(int transactionId, string idTag, long meterStop, int minute) =>
        new { transactionId, idTag, meterStop, timestamp = Timestamp(T0.AddMinutes(minute)), reason = "EVDisconnected" };

    /// <summary>Boot, payment code authorized (hold placed), transaction started: (authorization reference = session id, transaction id).</summary>
    public static Task<(string SessionId, int TransactionId)> StartPaidChargeAsync(DurableCharger charger, PhoneClient phone, long meterStart) =>
        StartPaidChargeAsync((action, payload) => charger.CallAsync(action, payload), phone, meterStart);

    /// <inheritdoc cref="StartPaidChargeAsync(DurableCharger, PhoneClient, long)"/>
    public static Task<(string SessionId, int TransactionId)> StartPaidChargeAsync(TestCharger charger, PhoneClient phone, long meterStart) =>
        StartPaidChargeAsync((action, payload) => charger.CallAsync(action, payload), phone, meterStart);

    private static async Task<(string SessionId, int TransactionId)> StartPaidChargeAsync(
        Func<string, object, Task<JsonElement>> call, PhoneClient phone, long meterStart)
    {
        var boot = Result(await call("BootNotification", new { chargePointVendor = "ACME", chargePointModel = "DC100", firmwareVersion = "1.0" }));
        Assert.Equal("Accepted", boot.GetProperty("status").GetString());
        Result(await call("StatusNotification", new { connectorId = 1, errorCode = "NoError", status = "Preparing", timestamp = Timestamp(T0) }));
        var answer = Result(await call("DataTransfer", PaymentAuthorize(await phone.ShowPaymentCodeAsync())));
        using var data = JsonDocument.Parse(answer.GetProperty("data").GetString()!);
        Assert.True(data.RootElement.GetProperty("status").GetString() == "Accepted", $"payment not accepted: {answer}");
        var reference = data.RootElement.GetProperty("authorizationReference").GetString()!;
        var start = Result(await call("StartTransaction", new { connectorId = 1, idTag = reference, meterStart, timestamp = Timestamp(T0) }));
        Assert.Equal("Accepted", start.GetProperty("idTagInfo").GetProperty("status").GetString());
        return (reference, start.GetProperty("transactionId").GetInt32());
    }
}

/// <summary>
/// A charger as OCPP 1.6 expects it to behave when its server goes away: it reconnects to the broker and sends an
/// unanswered message again (§4.1.1 for transaction messages), here after a short per-attempt timeout. Each attempt gets a
/// new message id, as a charger's retry does; the server must charge nothing twice.
/// </summary>
internal sealed class DurableCharger : IAsyncDisposable
{
    private readonly int _port;
    private SimulatedCharger _inner;
    private int _nextId;

    private DurableCharger(int port, string chargerId, SimulatedCharger inner)
    {
        _port = port;
        ChargerId = chargerId;
        _inner = inner;
    }

    public string ChargerId { get; }
    public int Reconnects { get; private set; }
    public int InternalErrors { get; private set; }
    /// <summary>Attempts that got no answer in time (the server gone, restarting, or stuck behind its database).</summary>
    public int Unanswered { get; private set; }
    public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromSeconds(5);

    public static async Task<DurableCharger> ConnectAsync(int port, string chargerId, TimeSpan timeout) =>
        new(port, chargerId, await ConnectInnerAsync(port, chargerId, DateTime.UtcNow + timeout));

    private static async Task<SimulatedCharger> ConnectInnerAsync(int port, string chargerId, DateTime deadline)
    {
        while (true)
        {
            try
            {
                return await SimulatedCharger.ConnectAsync(port, chargerId, DurabilityKit.PasswordFor(chargerId));
            }
            catch (Exception) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(250);
            }
        }
    }

    /// <summary>Sends a CALL until an answer arrives (bounded by <paramref name="total"/>), reconnecting when the connection dropped.</summary>
    public async Task<JsonElement> CallAsync(string action, object payload, TimeSpan? total = null)
    {
        var deadline = DateTime.UtcNow + (total ?? TimeSpan.FromSeconds(60));
        var json = JsonSerializer.Serialize(payload);
        Exception? last = null;
        while (DateTime.UtcNow < deadline)
        {
            if (!_inner.Client.IsConnected)
            {
                await _inner.DisposeAsync();
                _inner = await ConnectInnerAsync(_port, ChargerId, deadline);
                Reconnects++;
            }
            var id = $"{ChargerId}-d{Interlocked.Increment(ref _nextId)}";
            try
            {
                var answer = await _inner.SendRawAsync($"[2,{JsonSerializer.Serialize(id)},{JsonSerializer.Serialize(action)},{json}]", id, AttemptTimeout);
                // OCPP-J 1.6 §4.1.1: a transaction-related message answered with a CALLERROR is sent again after a
                // retry interval. InternalError is what the server answers while a dead silo's grains move over.
                if (answer[0].GetInt32() == 4 && answer[2].GetString() == "InternalError" && DateTime.UtcNow < deadline)
                {
                    InternalErrors++;
                    await Task.Delay(500);
                    continue;
                }
                return answer;
            }
            catch (Exception ex) when (ex is TimeoutException or Xunit.Sdk.XunitException or MQTTnet.Exceptions.MqttCommunicationException
                                           or InvalidOperationException or OperationCanceledException)
            {
                last = ex; // no answer (server gone or restarting) or the publish failed on a dropping connection: send again
                Unanswered++;
                await Task.Delay(200);
            }
        }
        throw new TimeoutException($"{ChargerId}: no answer to {action} within the deadline", last);
    }

    public ValueTask DisposeAsync() => _inner.DisposeAsync();
}
