using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace EvCharge.SocialSandbox.Providers;

/// <summary>
/// Fault switches of a provider-shaped server (<c>PUT /__faults {"operation":"capture","fault":"lost","count":1}</c>):
/// the next <c>count</c> requests of the operation get the fault. <c>error</c>: 500 before anything executes;
/// <c>timeout</c>: the request hangs <see cref="Hang"/> then 504, nothing executes; <c>lost</c>: the operation
/// executes (and its answer is stored under its Idempotency-Key, where the provider has them), then 500.
/// Deterministic on purpose: a test names exactly which call fails; a fault run sets seeded rates instead.
/// </summary>
public sealed class ProviderFaults
{
    private readonly ConcurrentDictionary<string, ConcurrentQueue<string>> _next = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<(string Operation, string Fault), int> _injected = new();
    private readonly Lock _gate = new();
    private FaultRates? _rates;
    private Random? _random;
    public static readonly string[] Kinds = ["error", "timeout", "lost"];

    /// <summary>The calls that move money; <see cref="SetRates"/> faults these unless told otherwise (lookups stay clean).</summary>
    public static readonly string[] MoneyOperations = ["authorize", "capture", "void", "refund", "increment", "transfer", "reversal", "payout"];

    public TimeSpan Hang { get; set; } = TimeSpan.FromSeconds(30);

    public void Enqueue(string operation, string fault, int count = 1)
    {
        if (!Kinds.Contains(fault)) throw new ArgumentException($"fault must be one of {string.Join(", ", Kinds)}");
        var q = _next.GetOrAdd(operation, _ => new ConcurrentQueue<string>());
        for (var i = 0; i < count; i++) q.Enqueue(fault);
    }

    /// <summary>
    /// Random faults for a fault run (<c>PUT /__faults/rates</c>): each request of the operations (default
    /// <see cref="MoneyOperations"/>) gets <c>error</c>, <c>timeout</c> or <c>lost</c> at these rates, from a seeded
    /// generator so that a run can be repeated. Queued faults still come first.
    /// </summary>
    public void SetRates(double errorRate, double timeoutRate, double lostRate, int seed, IReadOnlyCollection<string>? operations = null)
    {
        if (errorRate < 0 || timeoutRate < 0 || lostRate < 0 || errorRate + timeoutRate + lostRate > 1)
            throw new ArgumentException("rates must be non-negative and add up to at most 1");
        lock (_gate)
        {
            _rates = new FaultRates(errorRate, timeoutRate, lostRate, new HashSet<string>(operations ?? MoneyOperations, StringComparer.OrdinalIgnoreCase));
            _random = new Random(seed);
        }
    }

    public string? Next(string operation)
    {
        var fault = _next.TryGetValue(operation, out var q) && q.TryDequeue(out var f) ? f : Roll(operation);
        if (fault is not null) _injected.AddOrUpdate((operation, fault), 1, (_, n) => n + 1);
        return fault;
    }

    private string? Roll(string operation)
    {
        lock (_gate)
        {
            if (_rates is not { } r || !r.Operations.Contains(operation)) return null;
            var x = _random!.NextDouble();
            return x < r.Error ? "error" : x < r.Error + r.Timeout ? "timeout" : x < r.Error + r.Timeout + r.Lost ? "lost" : null;
        }
    }

    /// <summary>How many faults of a kind the operation got so far (queued or random).</summary>
    public int Injected(string operation, string fault) => _injected.GetValueOrDefault((operation, fault));

    public void Clear()
    {
        _next.Clear();
        lock (_gate) (_rates, _random) = (null, null);
    }

    private sealed record FaultRates(double Error, double Timeout, double Lost, HashSet<string> Operations);

    internal void Map(IEndpointRouteBuilder app)
    {
        app.MapPut("/__faults", (FaultRequest body) =>
        {
            try
            {
                Enqueue(body.Operation, body.Fault, Math.Clamp(body.Count ?? 1, 1, 1000));
                return Results.Ok(body);
            }
            catch (ArgumentException e)
            {
                return Results.BadRequest(new { message = e.Message });
            }
        });
        app.MapPut("/__faults/rates", (RatesRequest body) =>
        {
            try
            {
                SetRates(body.ErrorRate, body.TimeoutRate, body.LostRate, body.Seed ?? 1, body.Operations);
                return Results.Ok(body);
            }
            catch (ArgumentException e)
            {
                return Results.BadRequest(new { message = e.Message });
            }
        });
        app.MapDelete("/__faults", () =>
        {
            Clear();
            return Results.Ok();
        });
    }

    internal sealed record FaultRequest(string Operation, string Fault, int? Count);
    internal sealed record RatesRequest(double ErrorRate, double TimeoutRate, double LostRate, int? Seed, string[]? Operations);
}

/// <summary>A provider's answer before it is written: status and JSON body.</summary>
public sealed record ProviderReply(int Status, JsonNode Body)
{
    public static ProviderReply Ok(JsonNode body) => new(200, body);
}

/// <summary>
/// What every money-moving route of a provider-shaped server does around its own logic: the fault switch, the
/// provider's idempotency (stored answer per key, replay, refusal of a reused key; <c>null</c> for KakaoPay, which
/// has none), one lock per server so the in-memory state changes atomically.
/// </summary>
public sealed class ProviderRuntime(string provider, Func<string, ProviderReply> keyReused, bool replayHeader)
{
    private readonly ConcurrentDictionary<string, (string Hash, ProviderReply Reply)> _answers = new();
    public ProviderFaults Faults { get; } = new();
    public Lock Gate { get; } = new();
    public ConcurrentDictionary<string, int> Executions { get; } = new();
    /// <summary>Requests per operation, faulted or not (a fault run reports requests against executions).</summary>
    public ConcurrentDictionary<string, int> Requests { get; } = new();
    public string Provider => provider;

    public async Task<IResult> RunAsync(HttpContext ctx, string operation, string? idempotencyKey, string requestHash, Func<ProviderReply> execute,
        Func<ProviderReply, IResult>? write = null)
    {
        write ??= Write;
        Requests.AddOrUpdate(operation, 1, (_, n) => n + 1);
        var fault = Faults.Next(operation);
        if (fault == "error") return Write(new ProviderReply(500, ServerError()));
        if (fault == "timeout")
        {
            try { await Task.Delay(Faults.Hang, ctx.RequestAborted); } catch (OperationCanceledException) { }
            return Write(new ProviderReply(504, ServerError()));
        }

        ProviderReply reply;
        bool replayed = false;
        lock (Gate)
        {
            if (idempotencyKey is not null && _answers.TryGetValue(idempotencyKey, out var stored))
            {
                if (stored.Hash != requestHash) return Write(keyReused(idempotencyKey));
                reply = stored.Reply;
                replayed = true;
            }
            else
            {
                reply = execute();
                Executions.AddOrUpdate(operation, 1, (_, n) => n + 1);
                if (idempotencyKey is not null && reply.Status < 500) _answers[idempotencyKey] = (requestHash, reply);
            }
        }
        if (fault == "lost") return Write(new ProviderReply(500, ServerError()));
        if (replayed && replayHeader) ctx.Response.Headers["Idempotent-Replayed"] = "true";
        return write(reply);
    }

    private JsonNode ServerError() => provider switch
    {
        "KakaoPay" => new JsonObject { ["error_code"] = -9798, ["error_message"] = "service temporarily unavailable" },
        "Stripe" => new JsonObject { ["error"] = new JsonObject { ["type"] = "api_error", ["message"] = "An unknown error occurred" } },
        _ => new JsonObject { ["code"] = "FAILED_INTERNAL_SYSTEM_PROCESSING", ["message"] = "내부 시스템 처리 작업이 실패했습니다." },
    };

    public static IResult Write(ProviderReply reply) =>
        Results.Content(reply.Body.ToJsonString(), "application/json", Encoding.UTF8, reply.Status);

    public static string Hash(string canonical) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(canonical)));

    public static string NewId(string prefix, int length = 24)
    {
        const string alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        var bytes = RandomNumberGenerator.GetBytes(length);
        return prefix + new string(bytes.Select(b => alphabet[b % alphabet.Length]).ToArray());
    }
}

/// <summary>Options of the provider-shaped servers: the keys they accept (never real ones).</summary>
public sealed class ProviderServerOptions
{
    public string SecretKey { get; set; } = "test_sk_evcharge";
    /// <summary>Toss payouts: the 64-hex security key; Stripe: the webhook signing secret.</summary>
    public string SecurityKey { get; set; } = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    public string WebhookSecret { get; set; } = "whsec_evcharge_test";
    public TimeSpan FaultHang { get; set; } = TimeSpan.FromSeconds(30);
}

/// <summary>
/// Starts a server shaped like one provider's API (<c>toss</c>, <c>kakaopay</c>, <c>stripe</c>) on its own Kestrel
/// listener, for tests and for trying the adapters by hand (<c>dotnet run --project social-sandbox -- --provider toss</c>).
/// </summary>
public static class ProviderServerHost
{
    public static async Task<RunningProviderServer> StartAsync(string provider, ProviderServerOptions? options = null, string url = "http://127.0.0.1:0", CancellationToken ct = default)
    {
        options ??= new ProviderServerOptions();
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { ApplicationName = typeof(ProviderServerHost).Assembly.GetName().Name });
        builder.WebHost.UseKestrelCore().UseUrls(url);
        builder.Services.AddRouting();
        var app = builder.Build();
        var runtime = MapProvider(app, provider, options);
        await app.StartAsync(ct);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new RunningProviderServer(app, new Uri(address.Replace("[::]", "127.0.0.1").Replace("0.0.0.0", "127.0.0.1") + "/"), runtime, options);
    }

    public static ProviderRuntime MapProvider(IEndpointRouteBuilder app, string provider, ProviderServerOptions options)
    {
        var runtime = provider.ToLowerInvariant() switch
        {
            "toss" => TossServer.Map(app, options),
            "kakaopay" => KakaoPayServer.Map(app, options),
            "stripe" => StripeServer.Map(app, options),
            _ => throw new ArgumentException($"unknown provider '{provider}': toss, kakaopay or stripe"),
        };
        runtime.Faults.Hang = options.FaultHang;
        runtime.Faults.Map(app);
        app.MapGet("/health", () => Results.Json(new { status = "ok", provider = runtime.Provider }));
        return runtime;
    }
}

public sealed class RunningProviderServer(WebApplication app, Uri baseAddress, ProviderRuntime runtime, ProviderServerOptions options) : IAsyncDisposable
{
    public Uri BaseAddress { get; } = baseAddress;
    public ProviderRuntime Runtime { get; } = runtime;
    public ProviderServerOptions Options { get; } = options;
    public ProviderFaults Faults => Runtime.Faults;
    public int Executions(string operation) => Runtime.Executions.GetValueOrDefault(operation);
    public int Requests(string operation) => Runtime.Requests.GetValueOrDefault(operation);

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync(TimeSpan.FromSeconds(5));
        await app.DisposeAsync();
    }
}
