using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Threading.Channels;

namespace EvCharge.LoadTests.Driver;

/// <summary>A driver's phone: a sandbox wallet, its one-time payment codes, its receipt stream (SSE).</summary>
public sealed class Phone(string walletId)
{
    public string WalletId { get; } = walletId;
    internal Task? Listener;
    internal TaskCompletionSource Subscribed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>
/// The drivers' phones over the sandbox HTTP contract (docs/sandbox.md): wallets, payment codes, and receipts pushed
/// over server-sent events. One receipt stream per phone, as a real phone has; receipts are matched to the waiting
/// charge by session id. Idle phones wait in a channel, so a charge borrows one the way a driver walks up.
/// </summary>
public sealed class PhonePool : IAsyncDisposable
{
    private readonly HttpClient _http;
    private readonly Metrics _metrics;
    private readonly CancellationTokenSource _stop = new();
    private readonly Channel<Phone> _idle = Channel.CreateUnbounded<Phone>();
    private readonly ConcurrentDictionary<string, TaskCompletionSource<JsonElement>> _waiters = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, JsonElement> _early = new(StringComparer.Ordinal);
    private readonly List<Phone> _all = [];

    public PhonePool(Uri sandbox, Metrics metrics)
    {
        _metrics = metrics;
        _http = new HttpClient(new SocketsHttpHandler
        {
            // Every phone holds its receipt stream open on a connection of its own: a cap here below the number of
            // phones (rate x charge time) left the rest waiting for a stream that never opened.
            MaxConnectionsPerServer = int.MaxValue,
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
            AutomaticDecompression = DecompressionMethods.None,
            UseProxy = false,
        })
        { BaseAddress = sandbox, Timeout = Timeout.InfiniteTimeSpan };
    }

    public int Count => _all.Count;
    public long ReceiptsReceived;

    /// <summary>Creates <paramref name="count"/> wallets (bounded concurrency) and opens each one's receipt stream.</summary>
    public async Task AddPhonesAsync(string prefix, int count, long balance, CancellationToken ct)
    {
        using var gate = new SemaphoreSlim(32);
        var tasks = new List<Task>(count);
        for (var i = 0; i < count; i++)
        {
            await gate.WaitAsync(ct);
            var walletId = $"{prefix}w{_all.Count + i:D6}";
            tasks.Add(Task.Run(async () =>
            {
                try
                {
                    using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
                    cts.CancelAfter(TimeSpan.FromSeconds(30));
                    var response = await _http.PostAsJsonAsync("/v1/wallets",
                        new { walletId, owner = "load-driver", balance, perPaymentLimit = balance }, cts.Token);
                    if (response.StatusCode != HttpStatusCode.Conflict) response.EnsureSuccessStatusCode();
                    var phone = new Phone(walletId);
                    phone.Listener = ListenAsync(phone);
                    await phone.Subscribed.Task.WaitAsync(TimeSpan.FromSeconds(30), ct);
                    lock (_all) _all.Add(phone);
                    _idle.Writer.TryWrite(phone);
                }
                finally { gate.Release(); }
            }, ct));
        }
        await Task.WhenAll(tasks);
    }

    public bool TryRent(out Phone phone) => _idle.Reader.TryRead(out phone!);
    public ValueTask<Phone> RentAsync(CancellationToken ct) => _idle.Reader.ReadAsync(ct);
    public void Return(Phone phone) => _idle.Writer.TryWrite(phone);

    public async Task<string> PaymentCodeAsync(Phone phone, CancellationToken ct)
    {
        var t0 = Metrics.Now;
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(TimeSpan.FromSeconds(30));
        using var response = await _http.PostAsync($"/v1/wallets/{phone.WalletId}/payment-codes", null, cts.Token);
        if (!response.IsSuccessStatusCode) throw new OcppCallException($"sandbox:payment-code:{(int)response.StatusCode}", "payment code refused");
        var body = await response.Content.ReadFromJsonAsync<JsonElement>(cts.Token);
        _metrics.Record("sandbox.payment-code", t0);
        return body.GetProperty("code").GetString()!;
    }

    /// <summary>Registers interest in the receipt of <paramref name="sessionId"/> before the stop is sent.</summary>
    public Task<JsonElement> ExpectReceipt(string sessionId)
    {
        if (_early.TryRemove(sessionId, out var early)) return Task.FromResult(early);
        var tcs = _waiters.GetOrAdd(sessionId, static _ => new TaskCompletionSource<JsonElement>(TaskCreationOptions.RunContinuationsAsynchronously));
        if (_early.TryRemove(sessionId, out early)) tcs.TrySetResult(early);
        return tcs.Task;
    }

    public void Forget(string sessionId) => _waiters.TryRemove(sessionId, out _);

    /// <summary>Operator-style read of a wallet (for the mixed scenario and checks).</summary>
    public async Task<JsonElement> WalletAsync(string walletId, CancellationToken ct) =>
        await _http.GetFromJsonAsync<JsonElement>($"/v1/wallets/{walletId}", ct);

    private async Task ListenAsync(Phone phone)
    {
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"/v1/wallets/{phone.WalletId}/receipts/stream");
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, _stop.Token);
            response.EnsureSuccessStatusCode();
            await using var stream = await response.Content.ReadAsStreamAsync(_stop.Token);
            using var reader = new StreamReader(stream);
            string? evt = null;
            while (await reader.ReadLineAsync(_stop.Token) is { } line)
            {
                if (line.StartsWith(": subscribed", StringComparison.Ordinal)) phone.Subscribed.TrySetResult();
                else if (line.StartsWith("event:", StringComparison.Ordinal)) evt = line[6..].Trim();
                else if (line.StartsWith("data:", StringComparison.Ordinal) && evt == "receipt") OnReceipt(line.AsMemory(5));
                else if (line.Length == 0) evt = null;
            }
        }
        catch (OperationCanceledException) { }
        catch (Exception ex) when (ex is IOException or HttpRequestException)
        {
            if (!_stop.IsCancellationRequested) _metrics.Error("phone:receipt-stream-lost");
        }
        finally { phone.Subscribed.TrySetResult(); }
    }

    private void OnReceipt(ReadOnlyMemory<char> json)
    {
        JsonElement receipt;
        try { receipt = JsonDocument.Parse(json).RootElement.Clone(); }
        catch (JsonException) { _metrics.Error("phone:bad-receipt"); return; }
        Interlocked.Increment(ref ReceiptsReceived);
        if (!receipt.TryGetProperty("sessionId", out var s) || s.GetString() is not { } sessionId) return;
        if (_waiters.TryRemove(sessionId, out var tcs)) tcs.TrySetResult(receipt);
        else if (_early.Count < 100_000) _early[sessionId] = receipt;
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        foreach (var p in _all)
            if (p.Listener is { } l) await l.WaitAsync(TimeSpan.FromSeconds(5)).ContinueWith(_ => { });
        _http.Dispose();
    }
}
