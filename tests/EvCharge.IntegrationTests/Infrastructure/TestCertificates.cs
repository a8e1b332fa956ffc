using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace EvCharge.IntegrationTests.Infrastructure;

/// <summary>
/// A throwaway PKI made with .NET's CertificateRequest, written as PEM files the way an operator would hand them to the
/// server and to chargers: a charger CA, a server certificate for 127.0.0.1/localhost issued by it (wss://), and
/// charger client certificates whose subject CN is the charger id (security profile 3).
/// </summary>
public sealed class TestCertificates : IDisposable
{
    private readonly X509Certificate2 _ca;
    private readonly ECDsa _caKey;

    public TestCertificates(string directory, string caName = "EvCharge Test Charger CA")
    {
        Directory = directory;
        System.IO.Directory.CreateDirectory(directory);
        _caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={caName}, O=EvCharge Tests", _caKey, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        _ca = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));
        CaPath = Path.Combine(directory, "charger-ca.pem");
        File.WriteAllText(CaPath, _ca.ExportCertificatePem());

        var server = Issue("CN=127.0.0.1", serverAuth: true);
        ServerCertificatePath = Path.Combine(directory, "server.pem");
        ServerKeyPath = Path.Combine(directory, "server.key");
        File.WriteAllText(ServerCertificatePath, server.Certificate.ExportCertificatePem());
        File.WriteAllText(ServerKeyPath, server.KeyPem);
    }

    public string Directory { get; }
    /// <summary>The CA's certificate (PEM): ChargerBridge:WebSocket:ChargerCaPath, and the root chargers trust for wss://.</summary>
    public string CaPath { get; }
    public string ServerCertificatePath { get; }
    public string ServerKeyPath { get; }
    public X509Certificate2 Ca => _ca;

    /// <summary>A charger certificate (CN = <paramref name="chargerId"/>): PEM files for Node and a certificate with key for .NET.</summary>
    public (string CertPath, string KeyPath, X509Certificate2 Certificate) IssueCharger(string chargerId)
    {
        var (certificate, keyPem) = Issue($"CN={chargerId}, O=Test CPO", serverAuth: false);
        var certPath = Path.Combine(Directory, $"{chargerId}.pem");
        var keyPath = Path.Combine(Directory, $"{chargerId}.key");
        File.WriteAllText(certPath, certificate.ExportCertificatePem());
        File.WriteAllText(keyPath, keyPem);
        return (certPath, keyPath, certificate);
    }

    private (X509Certificate2 Certificate, string KeyPem) Issue(string subject, bool serverAuth)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [new Oid(serverAuth ? "1.3.6.1.5.5.7.3.1" : "1.3.6.1.5.5.7.3.2")], false));
        if (serverAuth)
        {
            var san = new SubjectAlternativeNameBuilder();
            san.AddIpAddress(IPAddress.Loopback);
            san.AddDnsName("localhost");
            request.CertificateExtensions.Add(san.Build());
        }
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(_ca, true, false));
        var serial = RandomNumberGenerator.GetBytes(12);
        serial[0] &= 0x7F;
        using var issued = request.Create(_ca, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(90), serial);
        var withKey = issued.CopyWithPrivateKey(key);
        return (withKey, key.ExportPkcs8PrivateKeyPem());
    }

    public void Dispose()
    {
        _ca.Dispose();
        _caKey.Dispose();
    }
}
