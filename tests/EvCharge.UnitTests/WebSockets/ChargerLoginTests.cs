using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using EvCharge.ChargerBridge.WebSockets;
using EvCharge.Charging;
using Microsoft.AspNetCore.Http;

namespace EvCharge.UnitTests.WebSockets;

public sealed class ChargerLoginTests
{
    [Theory]
    // registered profile, TLS?, profile 1 allowed?, refused?
    [InlineData(null, false, true, false)]
    [InlineData(null, true, true, false)]
    [InlineData(null, false, false, true)]
    [InlineData(null, true, false, false)]
    [InlineData(OcppSecurityProfile.BasicAuth, false, true, false)]
    [InlineData(OcppSecurityProfile.BasicAuth, true, true, true)]
    [InlineData(OcppSecurityProfile.BasicAuth, false, false, true)]
    [InlineData(OcppSecurityProfile.TlsBasicAuth, true, true, false)]
    [InlineData(OcppSecurityProfile.TlsBasicAuth, false, true, true)]
    [InlineData(OcppSecurityProfile.TlsClientCertificate, true, false, false)]
    [InlineData(OcppSecurityProfile.TlsClientCertificate, false, true, true)]
    public void The_registered_profile_decides_which_transport_may_log_in(OcppSecurityProfile? registered, bool tls, bool allowPlain, bool refused)
    {
        var problem = ChargerLogin.ProfileProblem(registered, tls, allowPlain);
        Assert.Equal(refused, problem is not null);
    }

    [Fact]
    public void An_unknown_profile_number_is_refused()
    {
        Assert.NotNull(ChargerLogin.ProfileProblem((OcppSecurityProfile)7, tls: true, allowBasicWithoutTls: true));
    }

    [Theory]
    [InlineData("CP-1", "s3cret", "CP-1", "s3cret")]
    [InlineData("CP-1", "pass:with:colons", "CP-1", "pass:with:colons")]
    [InlineData("CP-1", "비밀번호-utf8", "CP-1", "비밀번호-utf8")]
    public void Basic_credentials_split_at_the_first_colon(string user, string password, string expectedUser, string expectedPassword)
    {
        var header = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}"));
        Assert.True(ChargerLogin.TryParseBasic(header, out var u, out var p));
        Assert.Equal(expectedUser, u);
        Assert.Equal(expectedPassword, p);
        Assert.True(ChargerLogin.TryParseBasic("basic " + header[6..], out _, out _)); // scheme is case-insensitive
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("Bearer abc")]
    [InlineData("Basic not-base64!!")]
    [InlineData("Basic Q1AtMQ==")] // "CP-1": no colon
    [InlineData("Basic Q1AtMTo=")] // "CP-1:": empty password
    [InlineData("Basic OnNlY3JldA==")] // ":secret": empty user
    public void Malformed_basic_credentials_are_not_credentials(string? header)
    {
        Assert.False(ChargerLogin.TryParseBasic(header, out _, out _));
    }

    [Theory]
    [InlineData("/ocpp/CP-0001", "CP-0001")]
    [InlineData("/ocpp/CP-0001/", "CP-0001")]
    [InlineData("/ocpp/a.b_c-D", "a.b_c-D")]
    public void The_charger_id_is_the_segment_after_ocpp(string path, string expected)
    {
        Assert.True(OcppWebSocketEndpoint.TryGetChargerId(new PathString(path), out var id));
        Assert.Equal(expected, id);
    }

    [Theory]
    [InlineData("/ocpp")]
    [InlineData("/ocpp/")]
    [InlineData("/ocpp/CP 1")]
    [InlineData("/ocpp/CP-1/extra")]
    [InlineData("/ocpp/CP:1")]
    [InlineData("/api/v1/chargers/CP-1")]
    [InlineData("/ocppx/CP-1")]
    public void Anything_else_is_not_a_charger_url(string path)
    {
        Assert.False(OcppWebSocketEndpoint.TryGetChargerId(new PathString(path), out _));
        Assert.False(OcppWebSocketEndpoint.TryGetChargerId(new PathString("/ocpp/" + new string('x', 49)), out _));
    }

    [Fact]
    public void Profile_3_certificates_must_chain_to_the_charger_ca_and_name_the_charger()
    {
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest("CN=Charger CA", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        using var ca = caRequest.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));
        using var otherKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var otherRequest = new CertificateRequest("CN=Other CA", otherKey, HashAlgorithmName.SHA256);
        otherRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        using var otherCa = otherRequest.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));

        X509Certificate2 Issue(X509Certificate2 issuer, string cn, string eku = "1.3.6.1.5.5.7.3.2", int days = 30)
        {
            using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var request = new CertificateRequest($"CN={cn}", key, HashAlgorithmName.SHA256);
            request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(eku)], false));
            return request.Create(issuer, DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddDays(days), RandomNumberGenerator.GetBytes(8));
        }

        var trusted = new X509Certificate2Collection { ca };
        var now = DateTime.UtcNow;
        Assert.Null(ChargerLogin.CertificateProblem(Issue(ca, "CP-7"), "CP-7", trusted, now));
        Assert.Contains("names charger 'CP-8'", ChargerLogin.CertificateProblem(Issue(ca, "CP-8"), "CP-7", trusted, now));
        Assert.Contains("does not chain", ChargerLogin.CertificateProblem(Issue(otherCa, "CP-7"), "CP-7", trusted, now));
        Assert.Contains("does not chain", ChargerLogin.CertificateProblem(Issue(ca, "CP-7", eku: "1.3.6.1.5.5.7.3.1"), "CP-7", trusted, now)); // server-only EKU
        Assert.Contains("does not chain", ChargerLogin.CertificateProblem(Issue(ca, "CP-7"), "CP-7", trusted, now.AddDays(60))); // expired
    }
}

public sealed class LoginThrottleTests
{
    [Fact]
    public void A_key_is_refused_after_its_limit_of_failures_until_the_window_ends()
    {
        var time = new ManualClock(DateTimeOffset.Parse("2026-11-25T01:00:00Z"));
        var throttle = new LoginThrottle(limit: 3, TimeSpan.FromSeconds(60), time);
        for (var i = 0; i < 2; i++) throttle.Failed("CP-1");
        Assert.Null(throttle.RefusedUntil("CP-1"));
        throttle.Failed("CP-1");
        Assert.Equal(time.GetUtcNow().AddSeconds(60), throttle.RefusedUntil("CP-1"));
        Assert.Null(throttle.RefusedUntil("CP-2"));

        time.Advance(TimeSpan.FromSeconds(61));
        Assert.Null(throttle.RefusedUntil("CP-1"));
        throttle.Failed("CP-1"); // a new window starts with one failure
        Assert.Null(throttle.RefusedUntil("CP-1"));
    }

    [Fact]
    public void Success_clears_the_failures_and_the_table_stays_bounded()
    {
        var time = new ManualClock(DateTimeOffset.Parse("2026-11-25T01:00:00Z"));
        var throttle = new LoginThrottle(limit: 2, TimeSpan.FromSeconds(60), time, maxKeys: 10);
        throttle.Failed("CP-1");
        throttle.Succeeded("CP-1");
        throttle.Failed("CP-1");
        Assert.Null(throttle.RefusedUntil("CP-1"));

        for (var i = 0; i < 50; i++) throttle.Failed($"10.0.0.{i}");
        Assert.True(throttle.Tracked <= 10);
        time.Advance(TimeSpan.FromMinutes(2));
        for (var i = 0; i < 5; i++) throttle.Failed($"10.1.0.{i}"); // expired windows are swept to make room
        Assert.True(throttle.Tracked <= 10);
        throttle.Failed("10.1.0.0");
        Assert.NotNull(throttle.RefusedUntil("10.1.0.0")); // tracked again: the sweep made room
    }

    private sealed class ManualClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
        public void Advance(TimeSpan by) => now += by;
    }
}
