using System.Net;
using EvCharge.IntegrationTests.Providers;
using EvCharge.IntegrationTests.Sandbox;
using EvCharge.Payments;
using EvCharge.SocialSandbox;

namespace EvCharge.IntegrationTests.Driver;

/// <summary>
/// The phone checkouts Scan &amp; Charge relies on, over real HTTP: the sandbox's (checkout, the wallet page's approval,
/// the code that comes back) and KakaoPay's (ready, approval with pg_token), each turned into the payment code its
/// adapter authorizes by <see cref="ICheckoutApproval"/>.
/// </summary>
public sealed class CheckoutApprovalTests
{
    private static CheckoutRequest Checkout(string id, long amount) => new(id, amount, "driver-7", "EV charging CP-1 #1",
        new Uri("https://charge.example.kr/s/x/t/approved"), new Uri("https://charge.example.kr/s/x/t/cancelled"), new Uri("https://charge.example.kr/s/x/t/cancelled"));

    [Fact]
    public async Task The_sandbox_wallets_approval_code_pays_its_own_order_and_amount_and_nothing_else()
    {
        await using var sandbox = await SocialSandboxHost.StartAsync(new SandboxOptions());
        using var kit = new GatewayUnderTest(sandbox.BaseAddress);
        var wallet = ((WalletView)sandbox.Store.CreateWallet(new CreateWalletRequest("alice", "Alice", 100_000, null)).Body).WalletId;

        var checkout = await kit.Gateway.PrepareCheckoutAsync(Checkout("EV-ORDER-1", 30_000), "EV-ORDER-1:checkout");
        Assert.True(checkout.Required);
        Assert.Equal(new Uri(sandbox.BaseAddress, $"checkout/{checkout.ProviderReference}"), checkout.RedirectUrl);
        var again = await kit.Gateway.PrepareCheckoutAsync(Checkout("EV-ORDER-1", 30_000), "EV-ORDER-1:checkout");
        Assert.Equal(checkout.ProviderReference, again.ProviderReference); // a retry opens nothing new

        using var phone = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false });
        var page = await phone.GetStringAsync(checkout.RedirectUrl);
        Assert.Contains("30,000원", page);
        var approved = await phone.PostAsync(checkout.RedirectUrl, new FormUrlEncodedContent(new Dictionary<string, string> { ["action"] = "approve", ["walletId"] = wallet }));
        Assert.Equal(HttpStatusCode.Redirect, approved.StatusCode);
        var back = approved.Headers.Location!;
        Assert.Equal("https://charge.example.kr/s/x/t/approved", back.GetLeftPart(UriPartial.Path));
        var query = back.Query.TrimStart('?').Split('&').Select(p => p.Split('=')).ToDictionary(p => p[0], p => Uri.UnescapeDataString(p[1]));
        var code = ((ICheckoutApproval)kit.Gateway).PaymentCodeFromApproval(checkout.ProviderReference, query);
        Assert.NotNull(code);
        Assert.Null(((ICheckoutApproval)kit.Gateway).PaymentCodeFromApproval(checkout.ProviderReference, new Dictionary<string, string>()));

        // Read off the redirect, the code cannot pay another order or another amount.
        var other = await kit.Gateway.AuthorizeAsync(new AuthorizeRequest("sandbox", code, null, 30_000, "EV-ORDER-2", "CP-1"), "EV-ORDER-2:authorize");
        Assert.False(other.Approved);
        Assert.Equal("checkout_mismatch", other.DeclineCode);
        var more = await kit.Gateway.AuthorizeAsync(new AuthorizeRequest("sandbox", code, null, 50_000, "EV-ORDER-1", "CP-1"), "EV-ORDER-1:authorize-more");
        Assert.Equal("checkout_mismatch", more.DeclineCode);
        var hold = await kit.Gateway.AuthorizeAsync(new AuthorizeRequest("sandbox", code, null, 30_000, "EV-ORDER-1", "CP-1"), "EV-ORDER-1:authorize");
        Assert.True(hold.Approved, hold.DeclineCode);
        Assert.Equal(30_000, hold.Amount);
        var reused = await kit.Gateway.AuthorizeAsync(new AuthorizeRequest("sandbox", code, null, 30_000, "EV-ORDER-1", "CP-1"), "EV-ORDER-1:authorize-2");
        Assert.Equal("code_used", reused.DeclineCode);
    }

    [Fact]
    public async Task An_unknown_or_blocked_wallet_is_told_on_the_wallet_page_and_cancel_goes_back()
    {
        await using var sandbox = await SocialSandboxHost.StartAsync(new SandboxOptions());
        using var kit = new GatewayUnderTest(sandbox.BaseAddress);
        sandbox.Store.CreateWallet(new CreateWalletRequest("bob", "Bob", 100_000, null));
        sandbox.Store.SetBlocked("bob", true);
        var checkout = await kit.Gateway.PrepareCheckoutAsync(Checkout("EV-ORDER-3", 30_000), "EV-ORDER-3:checkout");
        using var phone = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false });
        async Task<HttpResponseMessage> Post(string action, string wallet) =>
            await phone.PostAsync(checkout.RedirectUrl, new FormUrlEncodedContent(new Dictionary<string, string> { ["action"] = action, ["walletId"] = wallet }));

        Assert.Contains("There is no wallet", WebUtility.HtmlDecode(await (await Post("approve", "nobody")).Content.ReadAsStringAsync()));
        Assert.Contains("This wallet is blocked.", await (await Post("approve", "bob")).Content.ReadAsStringAsync());
        var cancelled = await Post("cancel", "");
        Assert.Equal(HttpStatusCode.Redirect, cancelled.StatusCode);
        Assert.Equal("https://charge.example.kr/s/x/t/cancelled", cancelled.Headers.Location!.AbsoluteUri);
        Assert.Contains("This checkout is closed", await (await Post("approve", "bob")).Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task KakaoPays_return_with_pg_token_is_the_payment_code_its_adapter_approves()
    {
        await using var kit = await ProviderKit.StartAsync("kakaopay");
        var checkout = await kit.Gateway.PrepareCheckoutAsync(Checkout("EV-ORDER-K", 30_000), "EV-ORDER-K:checkout");
        var approved = await kit.TestHookAsync("/__test/approve", new { tid = checkout.ProviderReference });
        var token = approved.GetProperty("pg_token").GetString()!;
        var approval = (ICheckoutApproval)kit.Gateway;
        Assert.Null(approval.PaymentCodeFromApproval(checkout.ProviderReference, new Dictionary<string, string> { ["pg_token"] = "a:b" }));
        var code = approval.PaymentCodeFromApproval(checkout.ProviderReference, new Dictionary<string, string> { ["pg_token"] = token });
        Assert.Equal($"{checkout.ProviderReference}:{token}", code);
        var auth = await kit.Gateway.AuthorizeAsync(new AuthorizeRequest("kakaopay", code, null, 30_000, "EV-ORDER-K", "CP-1"), "EV-ORDER-K:authorize");
        Assert.True(auth.Approved, auth.DeclineCode);
    }
}
