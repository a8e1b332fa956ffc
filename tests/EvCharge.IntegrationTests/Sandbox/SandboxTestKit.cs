using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using EvCharge.Payments;
using EvCharge.SocialSandbox;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EvCharge.IntegrationTests.Sandbox;

/// <summary>A clock the test moves by hand, so code and hold expiry are tested without waiting.</summary>
internal sealed class ManualClock(DateTimeOffset start) : TimeProvider
{
    private DateTimeOffset _now = start;
    public override DateTimeOffset GetUtcNow() => _now;
    public void Advance(TimeSpan by) => _now += by;
}

internal sealed record HttpAnswer(HttpStatusCode Status, string Body, bool Replayed)
{
    public JsonElement Json => JsonDocument.Parse(Body).RootElement;
    public string Str(string name) => Json.GetProperty(name).GetString()!;
    public long Long(string name) => Json.GetProperty(name).GetInt64();
}

/// <summary>Raw HTTP to a running sandbox: what a phone, a payee or the operation server would send.</summary>
internal sealed class SandboxClient(Uri baseAddress) : IDisposable
{
    public HttpClient Http { get; } = new() { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(30) };

    public async Task<HttpAnswer> PostAsync(string path, object? body, string? idempotencyKey = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path);
        if (idempotencyKey is not null) request.Headers.Add("Idempotency-Key", idempotencyKey);
        if (body is not null)
            request.Content = new StringContent(JsonSerializer.Serialize(body, SandboxJson.Options), Encoding.UTF8, "application/json");
        return await AnswerAsync(await Http.SendAsync(request));
    }

    public async Task<HttpAnswer> GetAsync(string path) => await AnswerAsync(await Http.GetAsync(path));

    public async Task<HttpAnswer> DeleteAsync(string path) => await AnswerAsync(await Http.DeleteAsync(path));

    public async Task<HttpAnswer> PutAsync(string path, object body) =>
        await AnswerAsync(await Http.PutAsJsonAsync(path, body, SandboxJson.Options));

    private static async Task<HttpAnswer> AnswerAsync(HttpResponseMessage response)
    {
        using (response)
            return new HttpAnswer(response.StatusCode, await response.Content.ReadAsStringAsync(),
                response.Headers.Contains("Idempotent-Replayed"));
    }

    public async Task<string> CreateWalletAsync(string walletId, long balance, long? perPaymentLimit = null)
    {
        var a = await PostAsync("/v1/wallets", new { walletId, owner = "driver " + walletId, balance, perPaymentLimit });
        Assert.Equal(HttpStatusCode.Created, a.Status);
        return a.Str("walletRef");
    }

    public async Task<string> IssueCodeAsync(string walletId)
    {
        var a = await PostAsync($"/v1/wallets/{walletId}/payment-codes", null);
        Assert.Equal(HttpStatusCode.Created, a.Status);
        return a.Str("code");
    }

    public async Task<(long Balance, long Available, long Held)> WalletAsync(string walletId)
    {
        var a = await GetAsync($"/v1/wallets/{walletId}");
        Assert.Equal(HttpStatusCode.OK, a.Status);
        return (a.Long("balance"), a.Long("available"), a.Long("held"));
    }

    public Task<HttpAnswer> AuthorizeAsync(string code, long amount, string orderId, string key) =>
        PostAsync("/v1/authorizations", new { paymentCode = code, amount, orderId, merchantReference = "CP-1" }, key);

    public static object CaptureBody(long amount, params (string Payee, long Amount)[] splits) => new
    {
        amount,
        splits = splits.Select(s => new { payeeAccount = s.Payee, amount = s.Amount }).ToArray(),
        receipt = new
        {
            chargerId = "CP-1", connectorId = 1, sessionId = "s-1", energyWh = 12_345,
            startedAt = new DateTimeOffset(2026, 1, 1, 10, 0, 0, TimeSpan.Zero),
            stoppedAt = new DateTimeOffset(2026, 1, 1, 11, 0, 0, TimeSpan.Zero),
            total = amount, supplyValue = amount - (amount + 5) / 11, vat = (amount + 5) / 11,
        },
    };

    /// <summary>Authorizes <paramref name="amount"/> from a fresh code of the wallet and returns the authorization id.</summary>
    public async Task<string> HoldAsync(string walletId, long amount, string orderId)
    {
        var a = await AuthorizeAsync(await IssueCodeAsync(walletId), amount, orderId, "auth-" + orderId);
        Assert.Equal(HttpStatusCode.Created, a.Status);
        return a.Str("authorizationId");
    }

    public void Dispose() => Http.Dispose();
}

/// <summary>The adapter as the silo builds it: DI, typed HttpClient, resilience handler; fast back-off for tests.</summary>
internal sealed class GatewayUnderTest : IDisposable
{
    private readonly ServiceProvider _services;

    public GatewayUnderTest(Uri baseAddress, Action<SandboxGatewayOptions>? configure = null)
    {
        _services = new ServiceCollection()
            .AddLogging(b => b.SetMinimumLevel(LogLevel.Warning))
            .AddSandboxPaymentGateway(baseAddress, o =>
            {
                o.RetryBaseDelay = TimeSpan.FromMilliseconds(5);
                o.MaxRetryDelay = TimeSpan.FromMilliseconds(50);
                o.AttemptTimeout = TimeSpan.FromSeconds(10);
                configure?.Invoke(o);
            })
            .BuildServiceProvider();
        Gateway = _services.GetRequiredService<IPaymentGateway>();
    }

    public IPaymentGateway Gateway { get; }

    public void Dispose() => _services.Dispose();
}
