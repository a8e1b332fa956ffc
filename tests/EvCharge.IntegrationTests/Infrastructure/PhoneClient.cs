using System.Net.Http.Json;
using System.Text.Json;
using System.Threading.Channels;

namespace EvCharge.IntegrationTests.Infrastructure;

/// <summary>
/// The driver's phone as the sandbox wallet app would be: creates a wallet, shows a one-time payment code,
/// and listens on the receipt stream (server-sent events) the provider pushes to.
/// </summary>
public sealed class PhoneClient : IAsyncDisposable
{
    private readonly HttpClient http;
    private PhoneClient(HttpClient client) => http = client;

    private readonly CancellationTokenSource _stop = new();
    private readonly Channel<JsonElement> _receipts = Channel.CreateUnbounded<JsonElement>();
    private Task? _listener;

    public string WalletId { get; private set; } = "";

    public static async Task<PhoneClient> CreateAsync(Uri sandbox, long balance, string? walletId = null)
    {
        var phone = new PhoneClient(new HttpClient { BaseAddress = sandbox, Timeout = Timeout.InfiniteTimeSpan });
        var response = await phone.http.PostAsJsonAsync("/v1/wallets", new { walletId, owner = "driver", balance });
        response.EnsureSuccessStatusCode();
        phone.WalletId = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("walletId").GetString()!;
        return phone;
    }

    public async Task<string> ShowPaymentCodeAsync()
    {
        var response = await http.PostAsync($"/v1/wallets/{WalletId}/payment-codes", null);
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString()!;
    }

    /// <summary>The driver consents in the wallet app; the provider issues a saved billing key for the vehicle.</summary>
    public async Task<string> ConsentToBillingKeyAsync(string vehicleId, long? perChargeLimit = null, long? dailyLimit = null, DateTimeOffset? expiresAt = null)
    {
        var response = await http.PostAsJsonAsync($"/v1/wallets/{WalletId}/billing-keys", new { consent = true, vehicleId, perChargeLimit, dailyLimit, expiresAt });
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("billingKey").GetString()!;
    }

    public async Task RevokeBillingKeyAsync(string billingKey) =>
        (await http.DeleteAsync($"/v1/billing-keys/{billingKey}")).EnsureSuccessStatusCode();

    public async Task BlockAsync() =>
        (await http.PostAsync($"/v1/wallets/{WalletId}/block", null)).EnsureSuccessStatusCode();

    public async Task<JsonElement> WalletAsync() =>
        await http.GetFromJsonAsync<JsonElement>($"/v1/wallets/{WalletId}");

    /// <summary>Opens the receipt stream; call before the charge so the push is not missed.</summary>
    public async Task ListenForReceiptsAsync()
    {
        var request = new HttpRequestMessage(HttpMethod.Get, $"/v1/wallets/{WalletId}/receipts/stream");
        var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, _stop.Token);
        response.EnsureSuccessStatusCode();
        var stream = await response.Content.ReadAsStreamAsync(_stop.Token);
        _listener = Task.Run(async () =>
        {
            using var reader = new StreamReader(stream);
            string? evt = null;
            try
            {
                while (!_stop.IsCancellationRequested && await reader.ReadLineAsync(_stop.Token) is { } line)
                {
                    if (line.StartsWith("event:")) evt = line[6..].Trim();
                    else if (line.StartsWith("data:") && evt == "receipt")
                        await _receipts.Writer.WriteAsync(JsonDocument.Parse(line[5..].Trim()).RootElement.Clone());
                }
            }
            catch (OperationCanceledException) { }
            catch (IOException) { }
        });
    }

    public async Task<JsonElement> NextReceiptAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        return await _receipts.Reader.ReadAsync(cts.Token);
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        if (_listener is not null) await _listener;
        http.Dispose();
    }
}
