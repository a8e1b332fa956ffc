using System.Net;
using EvCharge.SocialSandbox;

namespace EvCharge.IntegrationTests.Sandbox;

public sealed class SandboxDeclineTests
{
    private static async Task AssertDeclinedAsync(HttpAnswer answer, string declineCode)
    {
        Assert.Equal(HttpStatusCode.PaymentRequired, answer.Status);
        Assert.Equal("declined", answer.Str("code"));
        Assert.Equal(declineCode, answer.Str("declineCode"));
        Assert.False(string.IsNullOrEmpty(answer.Str("detail")));
        await Task.CompletedTask;
    }

    [Fact]
    public async Task Unknown_used_and_expired_payment_codes_are_declined_and_leave_no_hold()
    {
        var clock = new ManualClock(DateTimeOffset.Parse("2026-03-01T00:00:00Z"));
        await using var sandbox = await SocialSandboxHost.StartAsync(new SandboxOptions { PaymentCodeLifetime = TimeSpan.FromMinutes(5), TimeProvider = clock });
        using var client = new SandboxClient(sandbox.BaseAddress);
        await client.CreateWalletAsync("w1", 100_000);

        await AssertDeclinedAsync(await client.AuthorizeAsync("12345678901234567890", 1_000, "o-unknown", "k-unknown"), "unknown_code");

        var code = await client.IssueCodeAsync("w1");
        Assert.Equal(20, code.Length);
        Assert.All(code, c => Assert.True(char.IsAsciiDigit(c)));
        Assert.Equal(HttpStatusCode.Created, (await client.AuthorizeAsync(code, 1_000, "o-first", "k-first")).Status);
        await AssertDeclinedAsync(await client.AuthorizeAsync(code, 1_000, "o-second", "k-second"), "code_used");

        var stale = await client.IssueCodeAsync("w1");
        clock.Advance(TimeSpan.FromMinutes(5) + TimeSpan.FromSeconds(1));
        await AssertDeclinedAsync(await client.AuthorizeAsync(stale, 1_000, "o-stale", "k-stale"), "code_expired");

        Assert.Equal(1_000, (await client.WalletAsync("w1")).Held); // only the one approved hold
        Assert.Empty((await client.GetAsync("/v1/authorizations?orderId=o-stale")).Json.GetProperty("data").EnumerateArray());
    }

    [Fact]
    public async Task Insufficient_funds_blocked_wallet_and_per_payment_limit_are_declined_with_their_codes()
    {
        await using var sandbox = await SocialSandboxHost.StartAsync(new SandboxOptions());
        using var client = new SandboxClient(sandbox.BaseAddress);
        await client.CreateWalletAsync("poor", 5_000);
        await client.CreateWalletAsync("capped", 100_000, perPaymentLimit: 30_000);
        await client.CreateWalletAsync("frozen", 100_000);

        await AssertDeclinedAsync(await client.AuthorizeAsync(await client.IssueCodeAsync("poor"), 5_001, "o1", "k1"), "insufficient_funds");
        await AssertDeclinedAsync(await client.AuthorizeAsync(await client.IssueCodeAsync("capped"), 30_001, "o2", "k2"), "limit_exceeded");

        Assert.True((await client.PostAsync("/v1/wallets/frozen/block", null)).Json.GetProperty("blocked").GetBoolean());
        await AssertDeclinedAsync(await client.AuthorizeAsync(await client.IssueCodeAsync("frozen"), 1_000, "o3", "k3"), "wallet_blocked");
        await client.PostAsync("/v1/wallets/frozen/unblock", null);
        Assert.Equal(HttpStatusCode.Created, (await client.AuthorizeAsync(await client.IssueCodeAsync("frozen"), 1_000, "o4", "k4")).Status);

        // A hold counts against the available balance: a second hold beyond it is declined.
        await client.CreateWalletAsync("busy", 10_000);
        Assert.Equal(HttpStatusCode.Created, (await client.AuthorizeAsync(await client.IssueCodeAsync("busy"), 8_000, "o5", "k5")).Status);
        await AssertDeclinedAsync(await client.AuthorizeAsync(await client.IssueCodeAsync("busy"), 8_000, "o6", "k6"), "insufficient_funds");
        Assert.Equal(1, sandbox.Store.Stats.Declines("wallet_blocked"));
    }

    [Fact]
    public async Task Billing_keys_need_consent_and_decline_when_revoked_expired_or_over_their_limits()
    {
        var clock = new ManualClock(DateTimeOffset.Parse("2026-03-01T01:00:00Z"));
        await using var sandbox = await SocialSandboxHost.StartAsync(new SandboxOptions { TimeProvider = clock });
        using var client = new SandboxClient(sandbox.BaseAddress);
        await client.CreateWalletAsync("ev", 500_000);

        var noConsent = await client.PostAsync("/v1/wallets/ev/billing-keys", new { consent = false });
        Assert.Equal(HttpStatusCode.UnprocessableEntity, noConsent.Status);
        Assert.Equal("consent_required", noConsent.Str("code"));

        var key = (await client.PostAsync("/v1/wallets/ev/billing-keys",
            new { consent = true, vehicleId = "VID:00AABBCCDDEE", perChargeLimit = 50_000, dailyLimit = 80_000 })).Str("billingKey");
        Task<HttpAnswer> Charge(long amount, string order) =>
            client.PostAsync("/v1/authorizations", new { billingKey = key, amount, orderId = order, merchantReference = "CP-9" }, "k-" + order);

        await AssertDeclinedAsync(await Charge(50_001, "per-charge"), "limit_exceeded");
        Assert.Equal(HttpStatusCode.Created, (await Charge(50_000, "a")).Status);
        await AssertDeclinedAsync(await Charge(30_001, "daily"), "limit_exceeded");
        Assert.Equal(HttpStatusCode.Created, (await Charge(30_000, "b")).Status);

        clock.Advance(TimeSpan.FromDays(1)); // a new day in Korea: the daily limit starts over
        Assert.Equal(HttpStatusCode.Created, (await Charge(30_000, "c")).Status);

        var revoked = await client.DeleteAsync($"/v1/billing-keys/{key}");
        Assert.Equal("revoked", revoked.Str("status"));
        await AssertDeclinedAsync(await Charge(1_000, "after-revoke"), "token_revoked");

        var shortLived = (await client.PostAsync("/v1/wallets/ev/billing-keys",
            new { consent = true, expiresAt = clock.GetUtcNow().AddHours(1) })).Str("billingKey");
        clock.Advance(TimeSpan.FromHours(2));
        await AssertDeclinedAsync(await client.PostAsync("/v1/authorizations",
            new { billingKey = shortLived, amount = 1_000, orderId = "late", merchantReference = "CP-9" }, "k-late"), "token_expired");
    }
}
