using EvCharge.Charging;
using EvCharge.Payments;
using EvCharge.SocialSandbox;

namespace EvCharge.IntegrationTests.Sandbox;

/// <summary>The HTTP adapter against a real sandbox on loopback, with the sandbox's fault switches on.</summary>
public sealed class SandboxGatewayTests
{
    private static readonly DateTimeOffset Start = new(2026, 1, 1, 10, 0, 0, TimeSpan.Zero);

    private static CaptureRequest Capture(string authId, long amount, long cpo) => new(authId, amount,
        [new SplitPart("cpo-acct", PayeeRole.Cpo, cpo), new SplitPart("platform-acct", PayeeRole.Platform, amount - cpo)],
        new ReceiptDetails("CP-7", 2, "sess-1", 20_000, Start, Start.AddHours(1), amount, amount - (amount + 5) / 11, (amount + 5) / 11));

    private static async Task<(RunningSandbox Sandbox, SandboxClient Client, string Code)> StartAsync(long balance = 100_000)
    {
        var sandbox = await SocialSandboxHost.StartAsync(new SandboxOptions { FaultTimeoutHang = TimeSpan.FromSeconds(20) });
        var client = new SandboxClient(sandbox.BaseAddress);
        await client.CreateWalletAsync("driver", balance);
        return (sandbox, client, await client.IssueCodeAsync("driver"));
    }

    private static AuthorizeRequest Authorize(string code, long amount, string order) =>
        new("social-sandbox", code, null, amount, order, "CP-7");

    [Fact]
    public async Task Authorize_capture_and_lookups_map_the_contract_onto_the_port()
    {
        var (sandbox, client, code) = await StartAsync();
        await using var _ = sandbox;
        using var __ = client;
        using var adapter = new GatewayUnderTest(sandbox.BaseAddress, o => o.HoldLifetime = TimeSpan.FromDays(7));
        var gateway = adapter.Gateway;
        Assert.Equal(new ProviderCapabilities(true, true, true, TimeSpan.FromDays(7)), gateway.Capabilities);

        var auth = await gateway.AuthorizeAsync(Authorize(code, 30_000, "sess-1"), "sess-1:authorize");
        Assert.True(auth.Approved);
        Assert.StartsWith("w_", auth.WalletRef);
        Assert.True(auth.AuthorizationId!.Length <= 20);
        Assert.Equal(30_000, auth.Amount);

        var found = await gateway.FindByOrderAsync("sess-1");
        Assert.Equal(ProviderAuthorizationStatus.Authorized, found!.Status);
        Assert.Equal(auth.AuthorizationId, found.AuthorizationId);

        var captured = await gateway.CaptureAsync(Capture(auth.AuthorizationId, 22_000, 19_800), "sess-1:capture");
        Assert.True(captured.Succeeded);
        Assert.Equal(8_000, captured.Released);
        Assert.Equal([new Remittance("cpo-acct", 19_800), new Remittance("platform-acct", 2_200)], captured.Remittances);

        var record = await gateway.GetAsync(auth.AuthorizationId);
        Assert.Equal(ProviderAuthorizationStatus.Captured, record!.Status);
        Assert.Equal(captured.PaymentId, record.PaymentId);
        Assert.Null(await gateway.GetAsync("az_doesnotexist"));

        var refund = await gateway.RefundAsync(new RefundRequest(captured.PaymentId!, 2_000,
            [new Remittance("cpo-acct", 1_800), new Remittance("platform-acct", 200)], "goodwill"), "sess-1:refund:1");
        Assert.True(refund.Succeeded);
        Assert.Equal(ProviderAuthorizationStatus.PartiallyRefunded, (await gateway.GetAsync(auth.AuthorizationId))!.Status);
        Assert.Equal((80_000, 80_000, 0), await client.WalletAsync("driver"));
    }

    [Fact]
    public async Task A_decline_is_returned_at_once_and_never_retried()
    {
        var (sandbox, client, code) = await StartAsync(balance: 1_000);
        await using var _ = sandbox;
        using var __ = client;
        using var adapter = new GatewayUnderTest(sandbox.BaseAddress, o => o.MaxRetryAttempts = 5);

        var outcome = await adapter.Gateway.AuthorizeAsync(Authorize(code, 30_000, "sess-d"), "sess-d:authorize");

        Assert.False(outcome.Approved);
        Assert.Equal("insufficient_funds", outcome.DeclineCode);
        Assert.Equal(1, sandbox.Store.Stats.Requests("authorize"));

        var expired = await adapter.Gateway.CaptureAsync(Capture("az_unknown", 1_000, 900), "sess-d:capture");
        Assert.False(expired.Succeeded);
        Assert.Equal("not_found", expired.ErrorCode);
        Assert.Equal(1, sandbox.Store.Stats.Requests("capture"));
    }

    [Fact]
    public async Task Half_of_the_captures_failing_with_503_still_captures_exactly_once_with_the_same_key()
    {
        var (sandbox, client, code) = await StartAsync();
        await using var _ = sandbox;
        using var __ = client;
        using var adapter = new GatewayUnderTest(sandbox.BaseAddress, o => o.MaxRetryAttempts = 12);
        var auth = await adapter.Gateway.AuthorizeAsync(Authorize(code, 30_000, "sess-r"), "sess-r:authorize");
        sandbox.Faults.Set(new FaultSettings(ErrorRate: 0.5, Seed: 7, AppliesTo: ["capture"]));

        var results = new List<CaptureOutcome>();
        var holds = new List<string>();
        for (var i = 0; i < 8; i++)
        {
            var a = i == 0 ? auth : await adapter.Gateway.AuthorizeAsync(
                Authorize(await client.IssueCodeAsync("driver"), 5_000, $"sess-r{i}"), $"sess-r{i}:authorize");
            holds.Add(a.AuthorizationId!);
            results.Add(await adapter.Gateway.CaptureAsync(Capture(a.AuthorizationId!, 1_100, 990), $"sess-r{i}:capture"));
        }

        Assert.All(results, r => Assert.True(r.Succeeded));
        Assert.True(sandbox.Store.Stats.Faults("capture", "error") > 0, "the fault switch must have fired");
        Assert.Equal(8 + sandbox.Store.Stats.Faults("capture", "error"), sandbox.Store.Stats.Requests("capture"));
        Assert.Equal(8, sandbox.Store.Stats.Executions("capture"));
        Assert.Equal(100_000 - 8 * 1_100, (await client.WalletAsync("driver")).Balance);
        Assert.Equal(8 * 990, (await client.GetAsync("/v1/payees/cpo-acct/remittances")).Long("total"));
    }

    [Fact]
    public async Task A_capture_whose_answer_was_lost_is_resolved_by_retrying_with_the_same_key_and_debits_once()
    {
        var (sandbox, client, code) = await StartAsync();
        await using var _ = sandbox;
        using var __ = client;
        using var adapter = new GatewayUnderTest(sandbox.BaseAddress, o => o.MaxRetryAttempts = 2);
        var auth = await adapter.Gateway.AuthorizeAsync(Authorize(code, 30_000, "sess-l"), "sess-l:authorize");

        // Every answer is lost: the adapter cannot know, so it says "unknown" rather than guessing.
        sandbox.Faults.Set(new FaultSettings(LostAnswerRate: 1.0, AppliesTo: ["capture"]));
        await Assert.ThrowsAsync<PaymentProviderUnavailableException>(() =>
            adapter.Gateway.CaptureAsync(Capture(auth.AuthorizationId!, 11_000, 9_900), "sess-l:capture"));
        Assert.Equal(3, sandbox.Store.Stats.Requests("capture"));
        Assert.Equal(1, sandbox.Store.Stats.Executions("capture"));
        Assert.Equal(89_000, (await client.WalletAsync("driver")).Balance);

        // The session resumes later with the same key and learns what happened.
        sandbox.Faults.Clear();
        var resumed = await adapter.Gateway.CaptureAsync(Capture(auth.AuthorizationId!, 11_000, 9_900), "sess-l:capture");
        Assert.True(resumed.Succeeded);
        Assert.Equal((await adapter.Gateway.GetAsync(auth.AuthorizationId!))!.PaymentId, resumed.PaymentId);
        Assert.Equal(1, sandbox.Store.Stats.Executions("capture"));
        Assert.Equal(89_000, (await client.WalletAsync("driver")).Balance);
        Assert.Single((await client.GetAsync("/v1/payees/cpo-acct/remittances")).Json.GetProperty("entries").EnumerateArray());
    }

    [Fact]
    public async Task Seeded_lost_answers_within_the_retry_budget_settle_in_one_call_and_once_at_the_provider()
    {
        var (sandbox, client, code) = await StartAsync();
        await using var _ = sandbox;
        using var __ = client;
        using var adapter = new GatewayUnderTest(sandbox.BaseAddress, o => o.MaxRetryAttempts = 12);
        var auth = await adapter.Gateway.AuthorizeAsync(Authorize(code, 30_000, "sess-s"), "sess-s:authorize");
        sandbox.Faults.Set(new FaultSettings(ErrorRate: 0.2, LostAnswerRate: 0.5, Seed: 11, AppliesTo: ["capture", "void"]));

        var captured = await adapter.Gateway.CaptureAsync(Capture(auth.AuthorizationId!, 5_000, 4_500), "sess-s:capture");

        Assert.True(captured.Succeeded);
        Assert.Equal(1, sandbox.Store.Stats.Executions("capture"));
        Assert.Equal(95_000, (await client.WalletAsync("driver")).Balance);
        Assert.Equal(4_500, (await client.GetAsync("/v1/payees/cpo-acct/remittances")).Long("total"));
    }

    [Fact]
    public async Task Time_outs_on_every_attempt_end_in_outcome_unknown_and_nothing_was_authorized()
    {
        var (sandbox, client, code) = await StartAsync();
        await using var _ = sandbox;
        using var __ = client;
        using var adapter = new GatewayUnderTest(sandbox.BaseAddress, o =>
        {
            o.MaxRetryAttempts = 2;
            o.AttemptTimeout = TimeSpan.FromMilliseconds(300);
        });
        sandbox.Faults.Set(new FaultSettings(TimeoutRate: 1.0, AppliesTo: ["authorize"]));

        await Assert.ThrowsAsync<PaymentProviderUnavailableException>(() =>
            adapter.Gateway.AuthorizeAsync(Authorize(code, 30_000, "sess-t"), "sess-t:authorize"));

        Assert.Equal(3, sandbox.Store.Stats.Requests("authorize"));
        Assert.Equal(0, sandbox.Store.Stats.Executions("authorize"));
        sandbox.Faults.Clear();
        Assert.Null(await adapter.Gateway.FindByOrderAsync("sess-t"));
        Assert.Equal(0, (await client.WalletAsync("driver")).Held);

        // The same key later goes through: nothing was stored for it while the provider hung.
        var retry = await adapter.Gateway.AuthorizeAsync(Authorize(code, 30_000, "sess-t"), "sess-t:authorize");
        Assert.True(retry.Approved);
    }

    [Fact]
    public async Task Void_through_the_adapter_releases_the_hold_and_a_voided_hold_cannot_be_captured()
    {
        var (sandbox, client, code) = await StartAsync();
        await using var _ = sandbox;
        using var __ = client;
        using var adapter = new GatewayUnderTest(sandbox.BaseAddress);
        var auth = await adapter.Gateway.AuthorizeAsync(Authorize(code, 30_000, "sess-v"), "sess-v:authorize");

        Assert.True((await adapter.Gateway.VoidAsync(auth.AuthorizationId!, "sess-v:void")).Succeeded);
        Assert.Equal(0, (await client.WalletAsync("driver")).Held);
        var capture = await adapter.Gateway.CaptureAsync(Capture(auth.AuthorizationId!, 1_000, 900), "sess-v:capture");
        Assert.False(capture.Succeeded);
        Assert.Equal("authorization_voided", capture.ErrorCode);
        Assert.Equal(1, sandbox.Store.Stats.Requests("capture"));
    }
}
