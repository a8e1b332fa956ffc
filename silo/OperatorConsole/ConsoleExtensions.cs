using System.Net.ServerSentEvents;
using System.Reflection;
using System.Runtime.CompilerServices;
using EvCharge.Silo.Security;
using Microsoft.AspNetCore.DataProtection;

namespace EvCharge.Silo.OperatorConsole;

/// <summary>
/// The operators' console at <c>/console</c>: server-rendered Razor Pages (OperatorConsole/Pages), a cookie session
/// after signing in with an API key (<see cref="ConsoleAuth"/>), a live fleet stream over server-sent events,
/// and two small embedded assets (console.css, console.js). See docs/console.md.
/// </summary>
public static class ConsoleExtensions
{
    public const string BasePath = "/console";

    public static WebApplicationBuilder AddEvChargeConsole(this WebApplicationBuilder builder, string dataDirectory)
    {
        var services = builder.Services;
        services.AddRazorPages(o =>
        {
            o.RootDirectory = "/OperatorConsole/Pages";
            o.Conventions.AuthorizeFolder("/", ConsoleAuth.ReaderPolicy);
            o.Conventions.AllowAnonymousToPage("/SignIn");
        }).ConfigureApplicationPartManager(parts =>
        {
            // MVC finds pages in the entry assembly; when the silo is hosted by another program (the tests, a
            // custom host) that is not this one, so the console's compiled pages are added explicitly, once.
            var silo = typeof(ConsoleExtensions).Assembly;
            if (parts.ApplicationParts.Any(p => p.Name == silo.GetName().Name)) return;
            foreach (var part in Microsoft.AspNetCore.Mvc.ApplicationParts.ApplicationPartFactory.GetApplicationPartFactory(silo).GetApplicationParts(silo))
                parts.ApplicationParts.Add(part);
        });
        services.AddAntiforgery(o =>
        {
            o.Cookie.Name = "evcharge.console.csrf";
            // The drivers' pages (/c, /s; silo/Driver) post forms too, and anti-forgery has one cookie for the whole app.
            o.Cookie.Path = "/";
            o.Cookie.SameSite = SameSiteMode.Strict;
            // Antiforgery refuses to run at all on plain HTTP with "Always"; its cookie is only half of a pair whose other
            // half is in the page, so it follows the request's scheme (the session cookie itself is always Secure).
            o.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
            o.FormFieldName = "__csrf";
        });
        // The one-shot notices after a POST (TempData) travel in an encrypted cookie of their own, scoped like the others.
        services.Configure<Microsoft.AspNetCore.Mvc.CookieTempDataProviderOptions>(o =>
        {
            o.Cookie.Name = "evcharge.console.notice";
            o.Cookie.Path = BasePath;
            o.Cookie.SameSite = SameSiteMode.Strict;
            o.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
        });
        services.AddConsoleAuth();
        // Cookie and anti-forgery tokens are encrypted with Data Protection keys. Kept with the silo's data (owner-only
        // directory) so sign-ins survive a restart; silos behind one load balancer share the directory
        // (Console:KeysDirectory) or use sticky sessions (docs/console.md).
        var keys = builder.Configuration["Console:KeysDirectory"] ?? Path.Combine(dataDirectory, "console-keys");
        var keysDir = Directory.CreateDirectory(keys);
        if (!OperatingSystem.IsWindows()) keysDir.UnixFileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
        services.AddDataProtection().SetApplicationName("evcharge").PersistKeysToFileSystem(keysDir);
        services.AddSingleton<FleetMonitor>();
        services.AddSingleton<ChargeCharts>();
        return builder;
    }

    public static WebApplication MapEvChargeConsole(this WebApplication app)
    {
        app.Use(SecurityHeaders);
        app.MapGet(BasePath + "/assets/{file}", Asset).AllowAnonymous().ExcludeFromDescription();
        app.MapGet(BasePath + "/fleet/events", FleetEvents).RequireAuthorization(ConsoleAuth.ReaderPolicy).ExcludeFromDescription();
        app.MapRazorPages();
        return app;
    }

    /// <summary>
    /// Console responses may load only the console's own script, styles and connections: an injected tag can
    /// neither run nor send data elsewhere, and no other site may frame the console (click-jacking).
    /// </summary>
    private static Task SecurityHeaders(HttpContext context, RequestDelegate next)
    {
        if (context.Request.Path.StartsWithSegments(BasePath))
        {
            var h = context.Response.Headers;
            h.ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
                                      "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
            h.XContentTypeOptions = "nosniff";
            h.XFrameOptions = "DENY";
            h["Referrer-Policy"] = "same-origin";
            // Cache-Control: every signed-in page carries a form, and anti-forgery marks those no-cache, no-store.
        }
        return next(context);
    }

    private static readonly Dictionary<string, string> Assets = new(StringComparer.Ordinal)
    {
        ["console.css"] = "text/css; charset=utf-8",
        ["console.js"] = "text/javascript; charset=utf-8",
    };

    /// <summary>The two assets are embedded in the silo assembly: the console works from any content root.</summary>
    private static IResult Asset(string file)
    {
        if (!Assets.TryGetValue(file, out var type)) return TypedResults.NotFound();
        var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("EvCharge.Console/" + file);
        return stream is null ? TypedResults.NotFound() : TypedResults.Stream(stream, type);
    }

    /// <summary>
    /// The fleet live stream: the caller's counts, then every charger the caller may see once, then whatever
    /// changed at each refresh of the shared snapshot. <c>?chargerId=</c> narrows it to one charger (the charger page).
    /// </summary>
    private static IResult FleetEvents(HttpContext context, FleetMonitor monitor, string? chargerId, CancellationToken ct) =>
        TypedResults.ServerSentEvents(Stream(CallerScope.From(context.User), monitor, chargerId, ct));

    private static async IAsyncEnumerable<SseItem<object>> Stream(CallerScope scope, FleetMonitor monitor, string? chargerId,
        [EnumeratorCancellation] CancellationToken ct)
    {
        var sent = new Dictionary<string, FleetCharger>(StringComparer.Ordinal);
        while (!ct.IsCancellationRequested)
        {
            var snapshot = await monitor.GetAsync(ct);
            var visible = snapshot.For(scope);
            if (chargerId is not null) visible = visible.Where(c => c.ChargerId == chargerId).ToList();
            else yield return new SseItem<object>(FleetCounts.Of(visible.ToList()), "counts");
            foreach (var c in visible)
            {
                if (sent.TryGetValue(c.ChargerId, out var before) && before.SameStatus(c)) continue;
                sent[c.ChargerId] = c;
                yield return new SseItem<object>(c, "charger");
            }
            try { await Task.Delay(FleetMonitor.RefreshEvery, ct); }
            catch (OperationCanceledException) { yield break; }
        }
    }
}
