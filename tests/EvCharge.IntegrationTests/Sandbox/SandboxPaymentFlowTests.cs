using System.Net;
using System.Text.Json;
using EvCharge.SocialSandbox;

namespace EvCharge.IntegrationTests.Sandbox;

public sealed class SandboxPaymentFlowTests
{
    [Fact]
    public async Task Capture_debits_the_wallet_releases_the_rest_remits_each_payee_and_pushes_the_receipt_to_the_phone()
    {
        await using var sandbox = await SocialSandboxHost.StartAsync(new SandboxOptions());
        using var client = new SandboxClient(sandbox.BaseAddress);
        await client.CreateWalletAsync("alice", 50_000);

        // The phone subscribes before anything happens; the stream's opening comment says it is registered.
        using var phone = new HttpClient { BaseAddress = sandbox.BaseAddress, Timeout = Timeout.InfiniteTimeSpan };
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var stream = await phone.GetAsync("/v1/wallets/alice/receipts/stream", HttpCompletionOption.ResponseHeadersRead, stop.Token);
        Assert.Equal("text/event-stream", stream.Content.Headers.ContentType?.MediaType);
        using var reader = new StreamReader(await stream.Content.ReadAsStreamAsync(stop.Token));
        Assert.Equal(": subscribed", await reader.ReadLineAsync(stop.Token));

        var authId = await client.HoldAsync("alice", 30_000, "order-1");
        Assert.Equal((50_000, 20_000, 30_000), await client.WalletAsync("alice"));

        var capture = await client.PostAsync($"/v1/authorizations/{authId}/capture",
            SandboxClient.CaptureBody(12_100, ("cpo-1", 10_890), ("platform", 1_210)), "cap-1");
        Assert.Equal(HttpStatusCode.OK, capture.Status);
        Assert.Equal("captured", capture.Str("status"));
        Assert.Equal(12_100, capture.Long("captured"));
        Assert.Equal(17_900, capture.Long("released"));
        var paymentId = capture.Str("paymentId");
        Assert.Equal((37_900, 37_900, 0), await client.WalletAsync("alice"));

        var cpo = await client.GetAsync("/v1/payees/cpo-1/remittances");
        Assert.Equal(10_890, cpo.Long("total"));
        Assert.Equal(paymentId, cpo.Json.GetProperty("entries")[0].GetProperty("paymentId").GetString());
        Assert.Equal(1_210, (await client.GetAsync("/v1/payees/platform/remittances")).Long("total"));

        var (eventName, data) = await ReadEventAsync(reader, stop.Token);
        Assert.Equal("receipt", eventName);
        var receipt = JsonDocument.Parse(data).RootElement;
        Assert.Equal(paymentId, receipt.GetProperty("paymentId").GetString());
        Assert.Equal("CP-1", receipt.GetProperty("merchant").GetString());
        Assert.Equal(12_100, receipt.GetProperty("total").GetInt64());
        Assert.Equal(1_100, receipt.GetProperty("vat").GetInt64());
        Assert.Equal(11_000, receipt.GetProperty("supplyValue").GetInt64());
        Assert.Equal(12_345, receipt.GetProperty("energyWh").GetInt64());
        Assert.Equal(2, receipt.GetProperty("splits").GetArrayLength());

        var history = await client.GetAsync("/v1/wallets/alice/receipts");
        Assert.Equal(paymentId, history.Json.GetProperty("data")[0].GetProperty("paymentId").GetString());
    }

    [Fact]
    public async Task A_reconnecting_phone_gets_the_receipts_it_missed_after_its_last_event_id()
    {
        await using var sandbox = await SocialSandboxHost.StartAsync(new SandboxOptions());
        using var client = new SandboxClient(sandbox.BaseAddress);
        await client.CreateWalletAsync("bob", 100_000);
        foreach (var n in new[] { 1, 2 })
        {
            var auth = await client.HoldAsync("bob", 10_000, $"order-{n}");
            var c = await client.PostAsync($"/v1/authorizations/{auth}/capture", SandboxClient.CaptureBody(1_000 * n, ("cpo", 1_000 * n)), $"cap-{n}");
            Assert.Equal(HttpStatusCode.OK, c.Status);
        }

        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/wallets/bob/receipts/stream");
        request.Headers.Add("Last-Event-ID", "1");
        using var phone = new HttpClient { BaseAddress = sandbox.BaseAddress, Timeout = Timeout.InfiniteTimeSpan };
        using var response = await phone.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, stop.Token);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(stop.Token));
        var (_, data) = await ReadEventAsync(reader, stop.Token);
        var missed = JsonDocument.Parse(data).RootElement;
        Assert.Equal(2, missed.GetProperty("sequence").GetInt64());
        Assert.Equal(2_000, missed.GetProperty("total").GetInt64());
    }

    [Fact]
    public async Task Void_releases_the_whole_hold_and_a_second_void_is_harmless_but_capture_after_void_is_a_conflict()
    {
        await using var sandbox = await SocialSandboxHost.StartAsync(new SandboxOptions());
        using var client = new SandboxClient(sandbox.BaseAddress);
        await client.CreateWalletAsync("carol", 40_000);
        var authId = await client.HoldAsync("carol", 30_000, "order-v");

        var voided = await client.PostAsync($"/v1/authorizations/{authId}/void", null, "void-1");
        Assert.Equal(HttpStatusCode.OK, voided.Status);
        Assert.Equal(30_000, voided.Long("released"));
        Assert.Equal((40_000, 40_000, 0), await client.WalletAsync("carol"));
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync($"/v1/authorizations/{authId}/void", null, "void-2")).Status);

        var capture = await client.PostAsync($"/v1/authorizations/{authId}/capture", SandboxClient.CaptureBody(100, ("cpo", 100)), "cap-v");
        Assert.Equal(HttpStatusCode.Conflict, capture.Status);
        Assert.Equal("authorization_voided", capture.Str("code"));
        Assert.Equal("voided", (await client.GetAsync($"/v1/authorizations/{authId}")).Str("status"));
    }

    [Fact]
    public async Task A_hold_expires_after_its_lifetime_releases_its_money_and_can_no_longer_be_captured()
    {
        var clock = new ManualClock(DateTimeOffset.Parse("2026-03-01T00:00:00Z"));
        await using var sandbox = await SocialSandboxHost.StartAsync(new SandboxOptions { HoldLifetime = TimeSpan.FromMinutes(30), TimeProvider = clock });
        using var client = new SandboxClient(sandbox.BaseAddress);
        await client.CreateWalletAsync("dave", 20_000);
        var authId = await client.HoldAsync("dave", 15_000, "order-e");
        Assert.Equal(5_000, (await client.WalletAsync("dave")).Available);

        clock.Advance(TimeSpan.FromMinutes(31));

        Assert.Equal((20_000, 20_000, 0), await client.WalletAsync("dave"));
        var auth = await client.GetAsync($"/v1/authorizations/{authId}");
        Assert.Equal("expired", auth.Str("status"));
        Assert.Equal(15_000, auth.Long("released"));
        var capture = await client.PostAsync($"/v1/authorizations/{authId}/capture", SandboxClient.CaptureBody(100, ("cpo", 100)), "cap-e");
        Assert.Equal(HttpStatusCode.Conflict, capture.Status);
        Assert.Equal("authorization_expired", capture.Str("code"));
    }

    [Fact]
    public async Task Capture_above_the_hold_or_with_splits_that_do_not_add_up_is_refused_and_a_second_capture_conflicts()
    {
        await using var sandbox = await SocialSandboxHost.StartAsync(new SandboxOptions());
        using var client = new SandboxClient(sandbox.BaseAddress);
        await client.CreateWalletAsync("erin", 50_000);
        var authId = await client.HoldAsync("erin", 10_000, "order-r");
        var path = $"/v1/authorizations/{authId}/capture";

        var over = await client.PostAsync(path, SandboxClient.CaptureBody(10_001, ("cpo", 10_001)), "cap-over");
        Assert.Equal(HttpStatusCode.UnprocessableEntity, over.Status);
        Assert.Equal("amount_exceeds_authorized", over.Str("code"));

        var mismatch = await client.PostAsync(path, SandboxClient.CaptureBody(5_000, ("cpo", 4_000), ("platform", 999)), "cap-mis");
        Assert.Equal(HttpStatusCode.UnprocessableEntity, mismatch.Status);
        Assert.Equal("split_mismatch", mismatch.Str("code"));
        Assert.Equal(10_000, (await client.WalletAsync("erin")).Held);

        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync(path, SandboxClient.CaptureBody(5_000, ("cpo", 5_000)), "cap-ok")).Status);
        var again = await client.PostAsync(path, SandboxClient.CaptureBody(5_000, ("cpo", 5_000)), "cap-other-key");
        Assert.Equal(HttpStatusCode.Conflict, again.Status);
        Assert.Equal("already_captured", again.Str("code"));
        Assert.Equal(45_000, (await client.WalletAsync("erin")).Balance);
    }

    [Fact]
    public async Task Refund_with_split_reversals_credits_the_wallet_debits_the_payees_and_is_bounded_by_the_capture()
    {
        await using var sandbox = await SocialSandboxHost.StartAsync(new SandboxOptions());
        using var client = new SandboxClient(sandbox.BaseAddress);
        await client.CreateWalletAsync("fay", 50_000);
        var authId = await client.HoldAsync("fay", 20_000, "order-f");
        var paymentId = (await client.PostAsync($"/v1/authorizations/{authId}/capture",
            SandboxClient.CaptureBody(11_000, ("cpo", 9_900), ("platform", 1_100)), "cap-f")).Str("paymentId");

        var refund = await client.PostAsync($"/v1/payments/{paymentId}/refunds", new
        {
            amount = 5_500, reason = "meter fault",
            splitReversals = new[] { new { payeeAccount = "cpo", amount = 4_950 }, new { payeeAccount = "platform", amount = 550 } },
        }, "ref-1");
        Assert.Equal(HttpStatusCode.Created, refund.Status);
        Assert.Equal(44_500, (await client.WalletAsync("fay")).Balance);
        var cpo = await client.GetAsync("/v1/payees/cpo/remittances");
        Assert.Equal(4_950, cpo.Long("total"));
        Assert.Equal(-4_950, cpo.Json.GetProperty("entries")[1].GetProperty("amount").GetInt64());
        Assert.Equal("partially_refunded", (await client.GetAsync($"/v1/authorizations/{authId}")).Str("status"));

        var tooMuch = await client.PostAsync($"/v1/payments/{paymentId}/refunds", new
        {
            amount = 5_501, splitReversals = new[] { new { payeeAccount = "cpo", amount = 5_501 } },
        }, "ref-2");
        Assert.Equal(HttpStatusCode.UnprocessableEntity, tooMuch.Status);
        Assert.Equal("refund_exceeds_captured", tooMuch.Str("code"));

        var wrongSum = await client.PostAsync($"/v1/payments/{paymentId}/refunds", new
        {
            amount = 1_000, splitReversals = new[] { new { payeeAccount = "cpo", amount = 900 } },
        }, "ref-3");
        Assert.Equal("split_mismatch", wrongSum.Str("code"));

        var payeeOver = await client.PostAsync($"/v1/payments/{paymentId}/refunds", new
        {
            amount = 1_000, splitReversals = new[] { new { payeeAccount = "platform", amount = 1_000 } },
        }, "ref-4");
        Assert.Equal("reversal_exceeds_remittance", payeeOver.Str("code"));

        var rest = await client.PostAsync($"/v1/payments/{paymentId}/refunds", new
        {
            amount = 5_500,
            splitReversals = new[] { new { payeeAccount = "cpo", amount = 4_950 }, new { payeeAccount = "platform", amount = 550 } },
        }, "ref-5");
        Assert.Equal(HttpStatusCode.Created, rest.Status);
        Assert.Equal(50_000, (await client.WalletAsync("fay")).Balance);
        Assert.Equal(0, (await client.GetAsync("/v1/payees/cpo/remittances")).Long("total"));
        Assert.Equal("refunded", (await client.GetAsync($"/v1/authorizations/{authId}")).Str("status"));
    }

    [Fact]
    public async Task Authorizations_can_be_found_by_order_id_and_listed_by_status_for_reconciliation()
    {
        await using var sandbox = await SocialSandboxHost.StartAsync(new SandboxOptions());
        using var client = new SandboxClient(sandbox.BaseAddress);
        await client.CreateWalletAsync("gus", 90_000);
        var open = await client.HoldAsync("gus", 10_000, "order-open");
        var done = await client.HoldAsync("gus", 10_000, "order-done");
        await client.PostAsync($"/v1/authorizations/{done}/void", null, "void-done");

        var byOrder = await client.GetAsync("/v1/authorizations?orderId=order-done");
        Assert.Equal(done, byOrder.Json.GetProperty("data")[0].GetProperty("authorizationId").GetString());
        var authorized = (await client.GetAsync("/v1/authorizations?status=authorized")).Json.GetProperty("data");
        Assert.Equal(new[] { open }, authorized.EnumerateArray().Select(a => a.GetProperty("authorizationId").GetString()!).ToArray());
        Assert.Equal(0, (await client.GetAsync("/v1/authorizations?orderId=nothing")).Json.GetProperty("data").GetArrayLength());
    }

    internal static async Task<(string Event, string Data)> ReadEventAsync(StreamReader reader, CancellationToken ct)
    {
        string? eventName = null, data = null;
        while (await reader.ReadLineAsync(ct) is { } line)
        {
            if (line.StartsWith("event: ")) eventName = line["event: ".Length..];
            else if (line.StartsWith("data: ")) data = line["data: ".Length..];
            else if (line.Length == 0 && data is not null) return (eventName ?? "message", data);
        }
        throw new EndOfStreamException("the receipt stream ended");
    }
}
