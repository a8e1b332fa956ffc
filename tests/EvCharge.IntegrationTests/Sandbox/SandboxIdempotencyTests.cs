using System.Net;
using EvCharge.SocialSandbox;

namespace EvCharge.IntegrationTests.Sandbox;

public sealed class SandboxIdempotencyTests
{
    [Fact]
    public async Task A_replay_returns_the_first_answer_byte_for_byte_and_moves_no_money()
    {
        await using var sandbox = await SocialSandboxHost.StartAsync(new SandboxOptions());
        using var client = new SandboxClient(sandbox.BaseAddress);
        await client.CreateWalletAsync("w", 100_000);
        var code = await client.IssueCodeAsync("w");

        var first = await client.AuthorizeAsync(code, 40_000, "order-1", "auth-key");
        var replay = await client.AuthorizeAsync(code, 40_000, "order-1", "auth-key");
        Assert.Equal(HttpStatusCode.Created, replay.Status);
        Assert.Equal(first.Body, replay.Body);
        Assert.False(first.Replayed);
        Assert.True(replay.Replayed);
        Assert.Equal(40_000, (await client.WalletAsync("w")).Held);

        var authId = first.Str("authorizationId");
        var body = SandboxClient.CaptureBody(30_000, ("cpo", 27_000), ("platform", 3_000));
        var capture = await client.PostAsync($"/v1/authorizations/{authId}/capture", body, "cap-key");
        var captureReplay = await client.PostAsync($"/v1/authorizations/{authId}/capture", body, "cap-key");
        Assert.Equal(capture.Body, captureReplay.Body);
        Assert.Equal(70_000, (await client.WalletAsync("w")).Balance);
        Assert.Equal(27_000, (await client.GetAsync("/v1/payees/cpo/remittances")).Long("total"));
        Assert.Equal(1, sandbox.Store.Stats.Executions("capture"));
        Assert.Single((await client.GetAsync("/v1/wallets/w/receipts")).Json.GetProperty("data").EnumerateArray());

        // A decline is an answer too: its replay is the same stored decline.
        var bigCode = await client.IssueCodeAsync("w");
        var declined = await client.AuthorizeAsync(bigCode, 80_000, "order-2", "big");
        var declinedReplay = await client.AuthorizeAsync(bigCode, 80_000, "order-2", "big");
        Assert.Equal(HttpStatusCode.PaymentRequired, declinedReplay.Status);
        Assert.Equal(declined.Body, declinedReplay.Body);
        Assert.True(declinedReplay.Replayed);
    }

    [Fact]
    public async Task The_same_key_with_a_different_body_or_path_is_refused_and_a_missing_key_is_a_bad_request()
    {
        await using var sandbox = await SocialSandboxHost.StartAsync(new SandboxOptions());
        using var client = new SandboxClient(sandbox.BaseAddress);
        await client.CreateWalletAsync("w", 100_000);
        var authId = await client.HoldAsync("w", 20_000, "order-1");

        var path = $"/v1/authorizations/{authId}/capture";
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync(path, SandboxClient.CaptureBody(10_000, ("cpo", 10_000)), "k")).Status);
        var reuse = await client.PostAsync(path, SandboxClient.CaptureBody(12_000, ("cpo", 12_000)), "k");
        Assert.Equal(HttpStatusCode.UnprocessableEntity, reuse.Status);
        Assert.Equal("idempotency_key_reuse", reuse.Str("code"));
        var otherPath = await client.PostAsync($"/v1/authorizations/{authId}/void", null, "k");
        Assert.Equal("idempotency_key_reuse", otherPath.Str("code"));

        var missing = await client.PostAsync("/v1/authorizations",
            new { paymentCode = await client.IssueCodeAsync("w"), amount = 1_000, orderId = "o", merchantReference = "m" });
        Assert.Equal(HttpStatusCode.BadRequest, missing.Status);
        Assert.Equal("idempotency_key_missing", missing.Str("code"));
        Assert.Equal(90_000, (await client.WalletAsync("w")).Balance);
        Assert.Equal(0, (await client.WalletAsync("w")).Held);
    }

    [Fact]
    public async Task Concurrent_duplicates_with_one_key_execute_once_and_all_get_the_same_answer()
    {
        await using var sandbox = await SocialSandboxHost.StartAsync(new SandboxOptions());
        using var client = new SandboxClient(sandbox.BaseAddress);
        await client.CreateWalletAsync("w", 100_000);
        var authId = await client.HoldAsync("w", 50_000, "order-1");
        var body = SandboxClient.CaptureBody(25_000, ("cpo", 22_500), ("platform", 2_500));

        var answers = await Task.WhenAll(Enumerable.Range(0, 32)
            .Select(_ => Task.Run(() => client.PostAsync($"/v1/authorizations/{authId}/capture", body, "same-key"))));

        Assert.All(answers, a => Assert.Equal(HttpStatusCode.OK, a.Status));
        Assert.Single(answers.Select(a => a.Body).Distinct());
        Assert.Equal(31, answers.Count(a => a.Replayed));
        Assert.Equal(1, sandbox.Store.Stats.Executions("capture"));
        Assert.Equal(75_000, (await client.WalletAsync("w")).Balance);
        Assert.Equal(22_500, (await client.GetAsync("/v1/payees/cpo/remittances")).Long("total"));
    }
}
