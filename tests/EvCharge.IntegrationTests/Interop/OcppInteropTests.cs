using System.Diagnostics;
using System.Text.Json;
using EvCharge.Charging;
using EvCharge.IntegrationTests.Bridge;
using EvCharge.IntegrationTests.Infrastructure;

namespace EvCharge.IntegrationTests.Interop;

/// <summary>
/// Interop with an OCPP-J client nobody here wrote: ocpp-rpc (npm, run by Node) in strict mode, which validates every
/// CALL and every answer against the OCPP 1.6 JSON schemas, plays chargers against the WebSocket endpoint
/// (tests/interop/charger.mjs). ws:// with HTTP Basic (profile 1), wss:// with Basic (profile 2) and a client
/// certificate made by this test (profile 3); the money is checked on the grains, the wallet and the ledger.
/// scripts/test.sh installs Node and npm from Debian and runs npm ci in tests/interop when they are missing.
/// </summary>
public sealed class OcppInteropTests(WebSocketBridgeFixture fx) : IClassFixture<WebSocketBridgeFixture>
{
    private static readonly string InteropDirectory = FindInteropDirectory();

    private async Task<JsonElement> RunChargerAsync(string scenario, object options)
    {
        var psi = new ProcessStartInfo("node")
        {
            WorkingDirectory = InteropDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add("charger.mjs");
        psi.ArgumentList.Add(scenario);
        psi.ArgumentList.Add(JsonSerializer.Serialize(options));
        using var process = Process.Start(psi) ?? throw new InvalidOperationException("node did not start");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90)))
        {
            try { await process.WaitForExitAsync(timeout.Token); }
            catch (OperationCanceledException) { process.Kill(entireProcessTree: true); throw new TimeoutException($"node {scenario} did not finish: {await stderr}"); }
        }
        var output = (await stdout).Trim();
        Assert.True(process.ExitCode == 0 && output.StartsWith('{'), $"node exited {process.ExitCode}: {output}\n{await stderr}");
        var result = JsonDocument.Parse(output).RootElement.Clone();
        Assert.False(result.TryGetProperty("error", out var error), $"{scenario}: {error}\n{output}");
        // Strict mode: nothing we sent (answers, server CALLs) failed the OCPP 1.6 schemas, and nothing the client sent did.
        Assert.Equal(0, result.GetProperty("strictValidationFailures").GetArrayLength());
        return result;
    }

    private object Options(string chargerId, bool tls, string? password = null, string? paymentCode = null, string? cert = null, string? key = null,
        string[]? protocols = null, long? meterWh = null) => new
    {
        endpoint = (tls ? fx.WssEndpoint : fx.WsEndpoint).ToString().TrimEnd('/'),
        identity = chargerId,
        password,
        paymentCode,
        ca = tls ? fx.Certificates.CaPath : null,
        cert,
        key,
        protocols,
        strict = protocols is null,
        meterWh,
    };

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_paid_charge_with_retries_unknown_transactions_and_malformed_frames(bool tls)
    {
        var chargerId = tls ? "IOP-WSS" : "IOP-WS";
        var password = await fx.AddChargerAsync(chargerId, tls ? OcppSecurityProfile.TlsBasicAuth : OcppSecurityProfile.BasicAuth);
        await using var phone = await PhoneClient.CreateAsync(fx.Core.Sandbox.BaseAddress, 100_000);
        await phone.ListenForReceiptsAsync();

        var r = await RunChargerAsync("paid-charge", Options(chargerId, tls, password, await phone.ShowPaymentCodeAsync()));

        Assert.True(r.GetProperty("connected").GetBoolean());
        Assert.Equal("ocpp1.6", r.GetProperty("protocol").GetString());
        Assert.Equal("Accepted", r.GetProperty("boot").GetString());
        Assert.Equal("Accepted", r.GetProperty("authorizeStatus").GetString());
        Assert.Equal(30_000, r.GetProperty("holdAmount").GetInt64());
        var tx = r.GetProperty("transactionId").GetInt32();
        Assert.Equal(tx, r.GetProperty("repeatedStartTransactionId").GetInt32());
        Assert.Equal("Accepted", r.GetProperty("startStatus").GetString());
        Assert.Equal("Accepted", r.GetProperty("feeStatus").GetString());
        Assert.Equal("Accepted", r.GetProperty("stopStatus").GetString());
        Assert.Equal("Accepted", r.GetProperty("repeatedStopStatus").GetString());
        Assert.True(r.GetProperty("unknownStopConfirmed").GetBoolean());
        var errors = r.GetProperty("callErrors");
        Assert.Equal("FormationViolation", errors.GetProperty("-1").GetString());
        Assert.Equal("ProtocolError", errors.GetProperty("bad-2").GetString());
        Assert.Equal("NotImplemented", errors.GetProperty("bad-3").GetString());
        Assert.Equal("TypeConstraintViolation", errors.GetProperty("bad-4").GetString());
        Assert.Equal("PropertyConstraintViolation", errors.GetProperty("bad-5").GetString());
        Assert.True(r.TryGetProperty("heartbeatAfterMalformed", out _), "the connection did not survive the malformed frames");

        // Settled once: 12,345 Wh at 300 KRW/kWh = 3,704 KRW, captured from the hold, receipt on the phone.
        var reference = r.GetProperty("reference").GetString()!;
        var session = await fx.Core.WaitForSessionAsync(reference, SessionState.Settled);
        Assert.Equal(SessionState.Settled, session.State);
        Assert.Equal(12_345, session.EnergyWh);
        Assert.Equal(3_704, session.Captured);
        Assert.False(session.FeeMismatch);
        Assert.Equal(3_704, (await phone.NextReceiptAsync(TimeSpan.FromSeconds(20))).GetProperty("total").GetInt64());
        var wallet = await phone.WalletAsync();
        Assert.Equal(100_000 - 3_704, wallet.GetProperty("balance").GetInt64());
        Assert.Equal(0, wallet.GetProperty("held").GetInt64());
        Assert.Contains(await fx.Core.Client.GetGrain<IChargerGrain>(chargerId).GetUnreconciled(), m => m.TransactionId == 987_654);
        var ledger = await fx.Core.Ledger.CheckInvariantsAsync();
        Assert.True(ledger.Balanced);
        Assert.DoesNotContain(ledger.Violations, v => v.SessionId == reference);
    }

    [Fact]
    public async Task RemoteStopTransaction_passes_the_clients_strict_schema_and_the_charge_settles_at_the_hold()
    {
        var password = await fx.AddChargerAsync("IOP-HOLD", OcppSecurityProfile.BasicAuth, hold: 1_000);
        await using var phone = await PhoneClient.CreateAsync(fx.Core.Sandbox.BaseAddress, 100_000);
        // 3,334 Wh at 300 KRW/kWh = 1,000 KRW: the running cost reaches the 1,000 KRW hold.
        var r = await RunChargerAsync("remote-stop", Options("IOP-HOLD", false, password, await phone.ShowPaymentCodeAsync(), meterWh: 3_334));
        var tx = r.GetProperty("transactionId").GetInt32();
        Assert.Equal(tx, r.GetProperty("remoteStop").GetProperty("transactionId").GetInt32());
        Assert.Equal("Accepted", r.GetProperty("stopStatus").GetString());
        var session = await fx.Core.WaitForSessionAsync(r.GetProperty("reference").GetString()!, SessionState.Settled);
        Assert.Equal(1_000, session.Captured);
    }

    [Fact]
    public async Task A_client_certificate_logs_in_under_profile_3_and_everything_else_is_refused()
    {
        await fx.AddChargerAsync("IOP-P3", OcppSecurityProfile.TlsClientCertificate);
        var own = fx.Certificates.IssueCharger("IOP-P3");
        var other = fx.Certificates.IssueCharger("IOP-P3-OTHER");

        var ok = await RunChargerAsync("connect", Options("IOP-P3", true, cert: own.CertPath, key: own.KeyPath));
        Assert.True(ok.GetProperty("connected").GetBoolean(), ok.ToString());
        Assert.Equal("Accepted", ok.GetProperty("boot").GetString());

        var otherCert = await RunChargerAsync("connect", Options("IOP-P3", true, cert: other.CertPath, key: other.KeyPath));
        Assert.False(otherCert.GetProperty("connected").GetBoolean());
        Assert.Equal(401, otherCert.GetProperty("status").GetInt32());

        var passwordInstead = await RunChargerAsync("connect", Options("IOP-P3", true, password: "secret-IOP-P3"));
        Assert.Equal(401, passwordInstead.GetProperty("status").GetInt32());
    }

    [Fact]
    public async Task A_wrong_password_an_unknown_subprotocol_and_a_profile_mismatch_are_refused_at_the_handshake()
    {
        var password = await fx.AddChargerAsync("IOP-REF", OcppSecurityProfile.TlsBasicAuth);

        var wrong = await RunChargerAsync("connect", Options("IOP-REF", true, "not-the-password"));
        Assert.False(wrong.GetProperty("connected").GetBoolean());
        Assert.Equal(401, wrong.GetProperty("status").GetInt32());

        var subprotocol = await RunChargerAsync("connect", Options("IOP-REF", true, password, protocols: ["ocpp2.0.1"]));
        Assert.False(subprotocol.GetProperty("connected").GetBoolean());
        Assert.Equal(400, subprotocol.GetProperty("status").GetInt32());

        // Registered for profile 2 (TLS): the right password over plain ws is still refused.
        var mismatch = await RunChargerAsync("connect", Options("IOP-REF", false, password));
        Assert.False(mismatch.GetProperty("connected").GetBoolean());
        Assert.Equal(401, mismatch.GetProperty("status").GetInt32());

        var right = await RunChargerAsync("connect", Options("IOP-REF", true, password));
        Assert.True(right.GetProperty("connected").GetBoolean(), right.ToString());
    }

    private static string FindInteropDirectory()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            var candidate = Path.Combine(d.FullName, "tests", "interop");
            if (File.Exists(Path.Combine(candidate, "charger.mjs")))
            {
                if (!Directory.Exists(Path.Combine(candidate, "node_modules", "ocpp-rpc")))
                    throw new InvalidOperationException($"ocpp-rpc is not installed in {candidate}: run scripts/ensure-deps.sh (npm ci)");
                return candidate;
            }
        }
        throw new InvalidOperationException("tests/interop not found above " + AppContext.BaseDirectory);
    }
}
