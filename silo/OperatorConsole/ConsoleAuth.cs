using System.Net;
using System.Security.Claims;
using EvCharge.Silo.Security;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;

namespace EvCharge.Silo.OperatorConsole;

/// <summary>
/// The console's sign-in: the operator or CPO pastes an API key once, the silo checks it against the configured keys
/// and answers with an encrypted, HttpOnly, Secure, SameSite=Strict cookie carrying the same role and CPO claims an
/// API call with that key gets, so <see cref="CallerScope"/> scopes console pages exactly as it scopes the API.
/// The cookie scheme is used by the console only: the REST API keeps requiring the key itself, so a browser's
/// cookie can never be replayed against /api/v1 from another site.
/// </summary>
public static class ConsoleAuth
{
    public const string Scheme = "EvChargeConsole";
    public const string CookieName = "evcharge.console";
    public const string KeyIdClaim = "evcharge:key-id";
    public const string ReaderPolicy = "console-reader";
    public const string OperatorPolicy = "console-operator";
    public static readonly TimeSpan SessionLifetime = TimeSpan.FromHours(8);
    /// <summary>Sent by console.js with the fragments it fetches, so an expired session answers 401 instead of a login page.</summary>
    public const string FetchHeader = "X-Console-Fetch";

    public static IServiceCollection AddConsoleAuth(this IServiceCollection services)
    {
        services.AddAuthentication().AddCookie(Scheme, o =>
        {
            o.Cookie.Name = CookieName;
            o.Cookie.HttpOnly = true;
            // Browsers keep Secure cookies from https:// and from loopback http:// (a laptop's 127.0.0.1:5080);
            // the sign-in page says so when it is served over plain HTTP elsewhere.
            o.Cookie.SecurePolicy = CookieSecurePolicy.Always;
            o.Cookie.SameSite = SameSiteMode.Strict;
            o.Cookie.Path = "/console";
            o.ExpireTimeSpan = SessionLifetime;
            o.SlidingExpiration = true;
            o.LoginPath = "/console/signin";
            o.LogoutPath = "/console/signout";
            o.AccessDeniedPath = "/console/denied";
            o.ReturnUrlParameter = "returnUrl";
            o.Events.OnValidatePrincipal = ValidateKeyStillConfigured;
            // The SSE stream and fragments are fetched by script: answer 401 instead of redirecting it to a login page.
            o.Events.OnRedirectToLogin = ctx => RedirectOrStatus(ctx, StatusCodes.Status401Unauthorized);
            o.Events.OnRedirectToAccessDenied = ctx => RedirectOrStatus(ctx, StatusCodes.Status403Forbidden);
        });
        services.AddAuthorizationBuilder()
            .AddPolicy(ReaderPolicy, p => p.AddAuthenticationSchemes(Scheme).RequireAuthenticatedUser()
                .RequireAssertion(c => c.User.IsInRole(nameof(ApiRole.Operator)) || c.User.HasClaim(cl => cl.Type == EvChargeClaims.CpoId)))
            .AddPolicy(OperatorPolicy, p => p.AddAuthenticationSchemes(Scheme).RequireAuthenticatedUser().RequireRole(nameof(ApiRole.Operator)));
        return services;
    }

    /// <summary>The principal a console session carries for a valid key: the API key handler's claims plus the key's id.</summary>
    public static ClaimsPrincipal Principal(ApiKeyEntry entry, string keyId)
    {
        var claims = new List<Claim>
        {
            new(ClaimTypes.Name, entry.Name ?? $"{entry.Role.ToString().ToLowerInvariant()}-key"),
            new(ClaimTypes.Role, entry.Role.ToString()),
            new(KeyIdClaim, keyId),
        };
        if (entry.Role == ApiRole.Cpo) claims.Add(new Claim(EvChargeClaims.CpoId, entry.CpoId!));
        return new ClaimsPrincipal(new ClaimsIdentity(claims, Scheme));
    }

    /// <summary>
    /// A console session lasts only as long as its key: a key removed from Auth:ApiKeys (or given another role or
    /// CPO) ends every session signed in with it at their next request.
    /// </summary>
    private static async Task ValidateKeyStillConfigured(CookieValidatePrincipalContext context)
    {
        var keys = context.HttpContext.RequestServices.GetRequiredService<ApiKeyStore>();
        var keyId = context.Principal?.FindFirst(KeyIdClaim)?.Value;
        var entry = keyId is null ? null : keys.FindById(keyId);
        var scope = context.Principal is null ? null : CallerScope.From(context.Principal);
        if (entry is null || scope is null || (entry.Role == ApiRole.Operator) != scope.IsOperator || (!scope.IsOperator && entry.CpoId != scope.CpoId))
        {
            context.RejectPrincipal();
            await context.HttpContext.SignOutAsync(Scheme);
        }
    }

    private static Task RedirectOrStatus(RedirectContext<CookieAuthenticationOptions> ctx, int status)
    {
        if (ctx.Request.Headers.Accept.ToString().Contains("text/event-stream") || ctx.Request.Headers.ContainsKey(FetchHeader))
            ctx.Response.StatusCode = status;
        else
            ctx.Response.Redirect(ctx.RedirectUri);
        return Task.CompletedTask;
    }

    /// <summary>
    /// Whether a browser will keep the Secure cookie for this request: HTTPS, or plain HTTP to a loopback address
    /// (what browsers treat as a secure context). Elsewhere the sign-in page explains why signing in cannot work.
    /// </summary>
    public static bool CookieWillStick(HttpRequest request)
    {
        if (request.IsHttps) return true;
        var host = request.Host.Host;
        return host.Equals("localhost", StringComparison.OrdinalIgnoreCase)
               || (IPAddress.TryParse(host.Trim('[', ']'), out var ip) && IPAddress.IsLoopback(ip));
    }
}
