using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace EvCharge.Silo.Security;

public enum ApiRole { Operator, Cpo }

/// <summary>One configured key: <c>Auth:ApiKeys:N:Key</c>, <c>:Role</c> (Operator|Cpo), <c>:CpoId</c> (Cpo only), <c>:Name</c>.</summary>
public sealed class ApiKeyEntry
{
    public string Key { get; set; } = "";
    public ApiRole Role { get; set; } = ApiRole.Cpo;
    public string? CpoId { get; set; }
    /// <summary>Who holds the key, for audit logs (the key itself is never logged).</summary>
    public string? Name { get; set; }
}

/// <summary>Configuration section <c>Auth</c>.</summary>
public sealed class ApiAuthOptions
{
    public const string SectionName = "Auth";
    public List<ApiKeyEntry> ApiKeys { get; set; } = [];

    /// <summary>Problems with the configured keys, without echoing a key.</summary>
    public IEnumerable<string> Problems()
    {
        for (var i = 0; i < ApiKeys.Count; i++)
        {
            var k = ApiKeys[i];
            if (string.IsNullOrWhiteSpace(k.Key) || k.Key.Length < 16) yield return $"Auth:ApiKeys:{i}:Key must be at least 16 characters";
            if (k.Role == ApiRole.Cpo && string.IsNullOrWhiteSpace(k.CpoId)) yield return $"Auth:ApiKeys:{i}: a Cpo key needs a CpoId";
        }
        if (ApiKeys.Select(k => k.Key).Distinct(StringComparer.Ordinal).Count() != ApiKeys.Count) yield return "Auth:ApiKeys: keys must be unique";
    }
}

public static class EvChargeClaims
{
    public const string CpoId = "evcharge:cpo";
}

public static class EvChargePolicies
{
    /// <summary>The platform operator: sees and manages everything.</summary>
    public const string Operator = "evcharge-operator";
    /// <summary>Operator or CPO; CPO callers are then scoped to their own data by <see cref="CallerScope"/>.</summary>
    public const string Reader = "evcharge-reader";
}

/// <summary>
/// API keys in the <c>X-Api-Key</c> header (or <c>Authorization: ApiKey &lt;key&gt;</c>). Keys are compared as
/// SHA-256 digests in fixed time, so the handler keeps no plain key after start and timing says nothing about it.
/// Nothing here logs the presented value.
/// </summary>
public sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, ApiKeyStore keys)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";
    public const string HeaderName = "X-Api-Key";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        string? presented = null;
        if (Request.Headers.TryGetValue(HeaderName, out var header)) presented = header.ToString();
        else if (Request.Headers.Authorization.ToString() is { } authz && authz.StartsWith(SchemeName + " ", StringComparison.OrdinalIgnoreCase))
            presented = authz[(SchemeName.Length + 1)..].Trim();
        if (string.IsNullOrEmpty(presented)) return Task.FromResult(AuthenticateResult.NoResult());

        var entry = keys.Find(presented);
        if (entry is null) return Task.FromResult(AuthenticateResult.Fail("unknown API key"));

        var claims = new List<Claim>
        {
            new(ClaimTypes.Name, entry.Name ?? $"{entry.Role.ToString().ToLowerInvariant()}-key"),
            new(ClaimTypes.Role, entry.Role.ToString()),
        };
        if (entry.Role == ApiRole.Cpo) claims.Add(new Claim(EvChargeClaims.CpoId, entry.CpoId!));
        var principal = new ClaimsPrincipal(new ClaimsIdentity(claims, SchemeName));
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(principal, SchemeName)));
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = StatusCodes.Status401Unauthorized;
        Response.Headers.WWWAuthenticate = $"{SchemeName} header=\"{HeaderName}\"";
        return Task.CompletedTask;
    }
}

/// <summary>The configured keys as digests.</summary>
public sealed class ApiKeyStore
{
    private readonly (byte[] Digest, ApiKeyEntry Entry)[] _keys;

    public ApiKeyStore(IOptions<ApiAuthOptions> options) =>
        _keys = options.Value.ApiKeys.Where(k => !string.IsNullOrEmpty(k.Key))
            .Select(k => (Digest(k.Key), new ApiKeyEntry { Role = k.Role, CpoId = k.CpoId, Name = k.Name }))
            .ToArray();

    public int Count => _keys.Length;

    public ApiKeyEntry? Find(string presented)
    {
        var digest = Digest(presented);
        ApiKeyEntry? found = null;
        foreach (var (d, e) in _keys)
            if (CryptographicOperations.FixedTimeEquals(d, digest)) found = e; // no early exit
        return found;
    }

    /// <summary>
    /// A key's identifier (hex of half its SHA-256): what a console session remembers of the key it signed in with,
    /// so removing the key from configuration ends those sessions too. It reveals nothing usable about the key.
    /// </summary>
    public static string KeyId(string key) => Convert.ToHexString(Digest(key).AsSpan(0, 16));

    /// <summary>The entry for a <see cref="KeyId"/>, or null once that key is no longer configured.</summary>
    public ApiKeyEntry? FindById(string keyId)
    {
        ApiKeyEntry? found = null;
        foreach (var (d, e) in _keys)
            if (string.Equals(Convert.ToHexString(d.AsSpan(0, 16)), keyId, StringComparison.Ordinal)) found = e;
        return found;
    }

    private static byte[] Digest(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));
}

/// <summary>What the caller may see: everything (operator) or one CPO's data.</summary>
public sealed record CallerScope(bool IsOperator, string? CpoId)
{
    public static CallerScope From(ClaimsPrincipal user) =>
        user.IsInRole(nameof(ApiRole.Operator)) ? new(true, null) : new(false, user.FindFirst(EvChargeClaims.CpoId)?.Value);

    public bool CanSee(string? cpoId) => IsOperator || (CpoId is not null && string.Equals(CpoId, cpoId, StringComparison.Ordinal));
}
