using System.Net.ServerSentEvents;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text.Json;
using System.Threading.RateLimiting;
using EvCharge.Charging;
using EvCharge.Driver;
using Microsoft.Extensions.Options;

namespace EvCharge.Silo.Driver;

/// <summary>
/// Scan &amp; Charge for drivers (docs/driver.md): the page behind each connector's QR code (<c>/c/{chargerId}/{connectorId}</c>),
/// the session's page at its capability link (<c>/s/{sessionId}/{token}</c>) with its live stream, the wallet's return
/// addresses, the rate limits on starting, and the page's two small assets. The pages themselves are Razor Pages in
/// <c>Areas/Driver/Pages</c>; no account, no cookie but the anti-forgery one.
/// </summary>
public static class DriverExtensions
{
    public const string StartLimiter = "driver-start";
    private static readonly TimeSpan LiveEvery = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan KeepAliveEvery = TimeSpan.FromSeconds(15);

    public static WebApplicationBuilder AddEvChargeDriver(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<DriverOptions>().Bind(builder.Configuration.GetSection(DriverOptions.SectionName))
            .Validate(o => o.RemoteStartTimeout > TimeSpan.Zero && o.RemoteStartAnswerTimeout > TimeSpan.Zero && o.RunningCostInterval >= TimeSpan.Zero,
                "Driver: RemoteStartTimeout and RemoteStartAnswerTimeout must be positive, RunningCostInterval not negative")
            .Validate(o => o.StartsPerAddressPerMinute > 0 && o.StartsPerConnectorPerMinute > 0, "Driver: the start limits must be positive")
            .Validate(o => o.PublicBaseUrl is null || o.PublicBaseUrl.IsAbsoluteUri, "Driver:PublicBaseUrl must be an absolute URL")
            .ValidateOnStart();
        // Without a configured public address the links use the silo's own first URL (the embedded default's 127.0.0.1:5080).
        services.PostConfigure<DriverOptions>(o =>
        {
            if (o.PublicBaseUrl is not null) return;
            var first = (builder.Configuration["Urls"] ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault();
            // Port 0 (a test host's "any free port") is no address: the pages then use the request's own.
            if (first is not null && Uri.TryCreate(first.Replace("://*", "://localhost").Replace("://+", "://localhost"), UriKind.Absolute, out var url) && url.Port != 0)
                o.PublicBaseUrl = url;
        });
        services.AddSingleton<DriverLinks>();
        services.AddRateLimiter(o =>
        {
            o.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            o.OnRejected = async (context, ct) =>
            {
                var text = DriverText.For(context.HttpContext.Request);
                context.HttpContext.Response.ContentType = "text/html; charset=utf-8";
                await context.HttpContext.Response.WriteAsync(
                    $"<!doctype html><meta charset=utf-8><meta name=viewport content='width=device-width,initial-scale=1'><title>429</title>" +
                    $"<p style='font:18px system-ui;padding:24px'>{text.T("시작 요청이 너무 많습니다. 1분 후 다시 시도해 주세요.", "Too many start attempts. Please try again in a minute.")}</p>", ct);
            };
            // Two limits on the start (the POST behind "Pay and start"), whoever asks: per client address and per connector.
            o.GlobalLimiter = PartitionedRateLimiter.CreateChained(
                PartitionedRateLimiter.Create<HttpContext, string>(ctx => StartKey(ctx) is null
                    ? RateLimitPartition.GetNoLimiter("")
                    : RateLimitPartition.GetFixedWindowLimiter("addr:" + (ctx.Connection.RemoteIpAddress?.ToString() ?? "?"), _ => Window(ctx, o => o.StartsPerAddressPerMinute))),
                PartitionedRateLimiter.Create<HttpContext, string>(ctx => StartKey(ctx) is { } connector
                    ? RateLimitPartition.GetFixedWindowLimiter("conn:" + connector, _ => Window(ctx, o => o.StartsPerConnectorPerMinute))
                    : RateLimitPartition.GetNoLimiter("")));
        });
        return builder;
    }

    public static WebApplication MapEvChargeDriver(this WebApplication app)
    {
        app.Use(SecurityHeaders);
        app.UseRateLimiter();
        app.MapGet("/driver/assets/{file}", Asset).AllowAnonymous().ExcludeFromDescription();
        app.MapGet("/s/{sessionId}/{token}/approved", Approved).AllowAnonymous().ExcludeFromDescription();
        app.MapGet("/s/{sessionId}/{token}/cancelled", Cancelled).AllowAnonymous().ExcludeFromDescription();
        app.MapGet("/s/{sessionId}/{token}/events", Events).AllowAnonymous().ExcludeFromDescription();
        return app;
    }

    /// <summary>A fresh session id: "EV" and 18 hex digits (72 random bits), within OCPP's 20-character idTag.</summary>
    public static string NewSessionId() => "EV" + Convert.ToHexString(RandomNumberGenerator.GetBytes(9));

    private static string? StartKey(HttpContext ctx)
    {
        if (!HttpMethods.IsPost(ctx.Request.Method)) return null;
        var segments = (ctx.Request.Path.Value ?? "").Split('/', StringSplitOptions.RemoveEmptyEntries);
        return segments is ["c", var charger, var connector] ? $"{charger}/{connector}" : null;
    }

    private static FixedWindowRateLimiterOptions Window(HttpContext ctx, Func<DriverOptions, int> limit) => new()
    {
        PermitLimit = limit(ctx.RequestServices.GetRequiredService<IOptions<DriverOptions>>().Value),
        Window = TimeSpan.FromMinutes(1),
        QueueLimit = 0,
    };

    /// <summary>
    /// Only the page's own script, styles and connections; no framing; and no Referer, so the capability link never
    /// travels to the wallet's pages. Session pages are not stored by caches.
    /// </summary>
    private static Task SecurityHeaders(HttpContext context, RequestDelegate next)
    {
        var path = context.Request.Path;
        if (path.StartsWithSegments("/c") || path.StartsWithSegments("/s") || path.StartsWithSegments("/driver"))
        {
            var h = context.Response.Headers;
            h.ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
                                      "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
            h.XContentTypeOptions = "nosniff";
            h.XFrameOptions = "DENY";
            h["Referrer-Policy"] = "no-referrer";
            if (path.StartsWithSegments("/s"))
            {
                // What anti-forgery itself sets on pages with a form: the same values, so it has nothing to override.
                h.CacheControl = "no-cache, no-store";
                h.Pragma = "no-cache";
            }
        }
        return next(context);
    }

    private static readonly Dictionary<string, string> Assets = new(StringComparer.Ordinal)
    {
        ["driver.css"] = "text/css; charset=utf-8",
        ["driver.js"] = "text/javascript; charset=utf-8",
    };

    private static IResult Asset(string file)
    {
        if (!Assets.TryGetValue(file, out var type)) return TypedResults.NotFound();
        var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("EvCharge.Driver/" + file);
        return stream is null ? TypedResults.NotFound() : TypedResults.Stream(stream, type);
    }

    /// <summary>The wallet sends the phone back here approved: the hold and the remote start begin, the page shows them.</summary>
    private static async Task<IResult> Approved(string sessionId, string token, HttpRequest request, DriverLinks links, IGrainFactory grains)
    {
        if (!await links.Verify(sessionId, token)) return NotFound(request);
        var approval = request.Query.Where(q => q.Key != "lang").ToDictionary(q => q.Key, q => q.Value.ToString(), StringComparer.Ordinal);
        await grains.GetGrain<IDriverChargeGrain>(sessionId).Approve(approval);
        return Results.Redirect(await links.PathFor(sessionId) + LangQuery(request), permanent: false, preserveMethod: false);
    }

    private static async Task<IResult> Cancelled(string sessionId, string token, HttpRequest request, DriverLinks links, IGrainFactory grains)
    {
        if (!await links.Verify(sessionId, token)) return NotFound(request);
        await grains.GetGrain<IDriverChargeGrain>(sessionId).Cancel("cancelled_in_wallet");
        return Results.Redirect(await links.PathFor(sessionId) + LangQuery(request));
    }

    private static string LangQuery(HttpRequest request) => request.Query["lang"].ToString() is "ko" or "en" ? "?lang=" + request.Query["lang"] : "";

    private static IResult NotFound(HttpRequest request) =>
        Results.Content(DriverText.For(request).T("찾을 수 없는 충전 내역입니다.", "No such charge."), "text/plain; charset=utf-8", statusCode: 404);

    /// <summary>Server-sent events for the session's page: the figures whenever they change, until the charge has ended.</summary>
    private static async Task<IResult> Events(string sessionId, string token, HttpRequest request, DriverLinks links, IGrainFactory grains,
        TimeProvider clock, CancellationToken ct)
    {
        if (!await links.Verify(sessionId, token)) return NotFound(request);
        return TypedResults.ServerSentEvents(Stream(sessionId, grains, clock, ct));
    }

    private static async IAsyncEnumerable<SseItem<DriverLiveState>> Stream(string sessionId, IGrainFactory grains, TimeProvider clock,
        [EnumeratorCancellation] CancellationToken ct)
    {
        string? sent = null;
        var quietSince = clock.GetUtcNow();
        while (!ct.IsCancellationRequested)
        {
            var state = await LoadAsync(sessionId, grains, clock);
            var json = JsonSerializer.Serialize(state);
            if (json != sent || clock.GetUtcNow() - quietSince >= KeepAliveEvery)
            {
                sent = json;
                quietSince = clock.GetUtcNow();
                yield return new SseItem<DriverLiveState>(state, "charge");
            }
            if (state.Final) yield break;
            try { await Task.Delay(LiveEvery, ct); }
            catch (OperationCanceledException) { yield break; }
        }
    }

    public static async Task<DriverLiveState> LoadAsync(string sessionId, IGrainFactory grains, TimeProvider clock)
    {
        var charge = await grains.GetGrain<IDriverChargeGrain>(sessionId).GetView();
        var session = charge.Stage is DriverChargeStage.SessionOpened or DriverChargeStage.Starting or DriverChargeStage.None
            ? await grains.GetGrain<IChargingSessionGrain>(sessionId).GetView()
            : null;
        return DriverLiveState.From(charge, session, clock.GetUtcNow());
    }
}
