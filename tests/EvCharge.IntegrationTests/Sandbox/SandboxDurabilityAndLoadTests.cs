using System.Net;
using EvCharge.SocialSandbox;

namespace EvCharge.IntegrationTests.Sandbox;

public sealed class SandboxDurabilityAndLoadTests
{
    [Fact]
    public async Task With_a_data_file_a_restarted_sandbox_keeps_wallets_holds_payments_remittances_and_stored_answers()
    {
        var dir = Directory.CreateTempSubdirectory("evcharge-sandbox-");
        try
        {
            var options = new SandboxOptions { DataFile = Path.Combine(dir.FullName, "sandbox.jsonl") };
            string authId, openId, captureBody;
            var capture = SandboxClient.CaptureBody(12_000, ("cpo", 10_800), ("platform", 1_200));
            await using (var first = await SocialSandboxHost.StartAsync(options))
            {
                using var client = new SandboxClient(first.BaseAddress);
                await client.CreateWalletAsync("w", 100_000);
                authId = await client.HoldAsync("w", 30_000, "order-1");
                openId = await client.HoldAsync("w", 20_000, "order-2");
                captureBody = (await client.PostAsync($"/v1/authorizations/{authId}/capture", capture, "cap-1")).Body;
            }

            await using var second = await SocialSandboxHost.StartAsync(options);
            using var again = new SandboxClient(second.BaseAddress);
            Assert.Equal((88_000, 68_000, 20_000), await again.WalletAsync("w"));
            Assert.Equal("authorized", (await again.GetAsync($"/v1/authorizations/{openId}")).Str("status"));
            Assert.Equal(10_800, (await again.GetAsync("/v1/payees/cpo/remittances")).Long("total"));
            Assert.Single((await again.GetAsync("/v1/wallets/w/receipts")).Json.GetProperty("data").EnumerateArray());

            var replay = await again.PostAsync($"/v1/authorizations/{authId}/capture", capture, "cap-1");
            Assert.True(replay.Replayed);
            Assert.Equal(captureBody, replay.Body);
            Assert.Equal(88_000, (await again.WalletAsync("w")).Balance);
            Assert.Equal(0, second.Store.Stats.Executions("capture"));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Five_hundred_concurrent_authorizations_never_hold_more_than_a_wallet_has()
    {
        await using var sandbox = await SocialSandboxHost.StartAsync(new SandboxOptions());
        using var client = new SandboxClient(sandbox.BaseAddress);
        const int wallets = 50, perWallet = 10;
        for (var w = 0; w < wallets; w++) await client.CreateWalletAsync($"w{w}", 35_000); // room for 3 holds of 10,000

        var codes = new List<(int Wallet, string Code)>();
        for (var w = 0; w < wallets; w++)
            for (var i = 0; i < perWallet; i++) codes.Add((w, await client.IssueCodeAsync($"w{w}")));

        var answers = await Task.WhenAll(codes.Select((c, n) => Task.Run(() =>
            client.AuthorizeAsync(c.Code, 10_000, $"order-{n}", $"key-{n}"))));

        Assert.Equal(wallets * 3, answers.Count(a => a.Status == HttpStatusCode.Created));
        Assert.All(answers.Where(a => a.Status != HttpStatusCode.Created), a => Assert.Equal("insufficient_funds", a.Str("declineCode")));
        for (var w = 0; w < wallets; w++)
            Assert.Equal((35_000, 5_000, 30_000), await client.WalletAsync($"w{w}"));
    }
}
