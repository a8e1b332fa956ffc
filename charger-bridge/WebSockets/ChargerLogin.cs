using System.Security.Cryptography.X509Certificates;
using System.Text;
using EvCharge.Charging;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EvCharge.ChargerBridge.WebSockets;

/// <summary>The outcome of a WebSocket login: accepted with the profile used, or refused with the HTTP status to answer.</summary>
public sealed record LoginResult(bool Accepted, int StatusCode, string Reason, OcppSecurityProfile? Profile = null, DateTimeOffset? RetryAfter = null)
{
    public static LoginResult Accept(OcppSecurityProfile profile) => new(true, StatusCodes.Status101SwitchingProtocols, "accepted", profile);
    public static LoginResult Refuse(string reason) => new(false, StatusCodes.Status401Unauthorized, reason);
}

/// <summary>
/// The OCPP 1.6 security profiles at the WebSocket handshake (OCPP 1.6 security whitepaper):
/// 1 = HTTP Basic over ws:// (when <see cref="OcppWebSocketOptions.AllowBasicAuthWithoutTls"/>), 2 = TLS + HTTP Basic,
/// 3 = TLS with a client certificate naming the charger, issued by the operator's charger CA. The profile a charger
/// must use is part of its registration; any other way in is refused. Failed logins are throttled per charger id and
/// per address and logged with the reason, never with the secret. Every refusal answers the same 401, so a caller
/// learns nothing about which chargers exist or how they are registered; the log tells the operator.
/// </summary>
public sealed class ChargerLogin
{
    public const string Realm = "EvCharge OCPP";

    private readonly IGrainFactory _grains;
    private readonly OcppWebSocketOptions _options;
    private readonly ILogger<ChargerLogin> _logger;
    private readonly LoginThrottle _byCharger;
    private readonly LoginThrottle _byAddress;
    private readonly Lazy<X509Certificate2Collection?> _chargerCa;

    public ChargerLogin(IGrainFactory grains, IOptions<OcppWebSocketOptions> options, TimeProvider time, ILogger<ChargerLogin> logger)
    {
        _grains = grains;
        _options = options.Value;
        _logger = logger;
        var window = TimeSpan.FromSeconds(Math.Max(1, _options.LoginThrottleWindowSeconds));
        _byCharger = new LoginThrottle(Math.Max(1, _options.LoginFailuresPerCharger), window, time);
        _byAddress = new LoginThrottle(Math.Max(1, _options.LoginFailuresPerAddress), window, time);
        _chargerCa = new Lazy<X509Certificate2Collection?>(LoadChargerCa);
    }

    public async Task<LoginResult> LoginAsync(HttpContext context, string chargerId)
    {
        var address = context.Connection.RemoteIpAddress?.ToString() ?? "unknown";
        var refusedUntil = Later(_byCharger.RefusedUntil(chargerId), _byAddress.RefusedUntil(address));
        if (refusedUntil is { } until)
        {
            _logger.LogWarning("Refused WebSocket login of charger {ChargerId} from {Address}: too many failed logins, throttled until {Until:O}",
                chargerId, address, until);
            return new LoginResult(false, StatusCodes.Status429TooManyRequests, "too many failed logins", RetryAfter: until);
        }

        LoginResult result;
        try
        {
            result = await CheckAsync(context, chargerId);
        }
        catch (Exception e)
        {
            // The grain could not be asked (silo restarting): not the charger's fault, not counted as a failure.
            _logger.LogWarning(e, "WebSocket login of charger {ChargerId} from {Address} could not be checked", chargerId, address);
            return new LoginResult(false, StatusCodes.Status503ServiceUnavailable, "login cannot be checked right now");
        }

        if (result.Accepted)
        {
            _byCharger.Succeeded(chargerId);
            return result;
        }
        _byCharger.Failed(chargerId);
        _byAddress.Failed(address);
        _logger.LogWarning("Refused WebSocket login of charger {ChargerId} from {Address} ({Transport}): {Reason}",
            chargerId, address, context.Request.IsHttps ? "wss" : "ws", result.Reason);
        return result;
    }

    private async Task<LoginResult> CheckAsync(HttpContext context, string chargerId)
    {
        var tls = context.Request.IsHttps;
        var view = await _grains.GetGrain<IChargerGrain>(chargerId).GetView();
        if (view.Registration is not { } registration) return LoginResult.Refuse("charger is not registered");

        if (ProfileProblem(registration.SecurityProfile, tls, _options.AllowBasicAuthWithoutTls) is { } problem)
            return LoginResult.Refuse(problem);

        if (registration.SecurityProfile == OcppSecurityProfile.TlsClientCertificate)
        {
            var certificate = context.Connection.ClientCertificate ?? await context.Connection.GetClientCertificateAsync(context.RequestAborted);
            return CertificateProblem(certificate, chargerId) is { } bad
                ? LoginResult.Refuse(bad)
                : LoginResult.Accept(OcppSecurityProfile.TlsClientCertificate);
        }

        if (!TryParseBasic(context.Request.Headers.Authorization, out var user, out var password))
            return LoginResult.Refuse("no HTTP Basic credentials");
        if (!string.Equals(user, chargerId, StringComparison.Ordinal))
            return LoginResult.Refuse("Basic username is not the charger id of the URL");
        if (!await _grains.GetGrain<IChargerGrain>(chargerId).CheckPassword(password))
            return LoginResult.Refuse("wrong password");
        return LoginResult.Accept(tls ? OcppSecurityProfile.TlsBasicAuth : OcppSecurityProfile.BasicAuth);
    }

    /// <summary>Why a connection over this transport cannot log in as a charger registered with <paramref name="required"/>, or null.</summary>
    public static string? ProfileProblem(OcppSecurityProfile? required, bool tls, bool allowBasicWithoutTls) => required switch
    {
        OcppSecurityProfile.BasicAuth when tls => "registered for security profile 1 (ws://) but connected over wss://",
        OcppSecurityProfile.TlsBasicAuth or OcppSecurityProfile.TlsClientCertificate when !tls =>
            $"registered for security profile {(int)required} but connected without TLS",
        OcppSecurityProfile.BasicAuth or null when !tls && !allowBasicWithoutTls =>
            "HTTP Basic over plain ws:// (security profile 1) is turned off on this server",
        null or OcppSecurityProfile.BasicAuth or OcppSecurityProfile.TlsBasicAuth or OcppSecurityProfile.TlsClientCertificate => null,
        _ => $"unknown security profile {(int)required}",
    };

    /// <summary>
    /// Reads "Basic base64(user:password)". The username is the charger id, which never contains ':', so the first
    /// ':' ends it and the password may contain any character. The password is UTF-8 text.
    /// </summary>
    public static bool TryParseBasic(string? header, out string user, out string password)
    {
        user = password = "";
        const string scheme = "Basic ";
        if (header is null || !header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase)) return false;
        Span<byte> decoded = stackalloc byte[512];
        if (!Convert.TryFromBase64String(header[scheme.Length..].Trim(), decoded, out var length)) return false;
        var text = Encoding.UTF8.GetString(decoded[..length]);
        var colon = text.IndexOf(':');
        if (colon <= 0) return false;
        user = text[..colon];
        password = text[(colon + 1)..];
        return password.Length > 0;
    }

    /// <summary>Profile 3: the certificate must chain to the configured charger CA and name the charger in its subject CN.</summary>
    public string? CertificateProblem(X509Certificate2? certificate, string chargerId)
    {
        if (certificate is null) return "security profile 3 needs a client certificate and none was presented";
        if (_chargerCa.Value is not { Count: > 0 } ca) return "security profile 3 needs ChargerBridge:WebSocket:ChargerCaPath, which is not configured";
        return CertificateProblem(certificate, chargerId, ca, DateTime.UtcNow);
    }

    public static string? CertificateProblem(X509Certificate2 certificate, string chargerId, X509Certificate2Collection ca, DateTime now)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(ca);
        // No CRL or OCSP: the operator's charger CA publishes none here; a lost charger is cut off by re-registering it
        // with a new certificate CN or another profile (docs/operations.md, "Charger certificates").
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationTime = now;
        chain.ChainPolicy.ApplicationPolicy.Add(new System.Security.Cryptography.Oid("1.3.6.1.5.5.7.3.2")); // TLS client authentication
        if (!chain.Build(certificate))
        {
            var status = string.Join(", ", chain.ChainStatus.Select(s => s.Status).Distinct());
            return $"client certificate {certificate.Subject} does not chain to the charger CA ({status})";
        }
        var commonName = certificate.GetNameInfo(X509NameType.SimpleName, forIssuer: false);
        return string.Equals(commonName, chargerId, StringComparison.Ordinal)
            ? null
            : $"client certificate names charger '{commonName}', not '{chargerId}'";
    }

    private X509Certificate2Collection? LoadChargerCa()
    {
        if (string.IsNullOrWhiteSpace(_options.ChargerCaPath)) return null;
        var ca = new X509Certificate2Collection();
        ca.ImportFromPemFile(_options.ChargerCaPath);
        _logger.LogInformation("Charger CA for security profile 3: {Subjects}", string.Join("; ", ca.Select(c => c.Subject)));
        return ca;
    }

    private static DateTimeOffset? Later(DateTimeOffset? a, DateTimeOffset? b) => a is null ? b : b is null ? a : a > b ? a : b;
}
