using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace EvCharge.Payments.Providers;

/// <summary>
/// Toss payouts' ENCRYPTION security mode: the request body is a compact JWE with <c>alg: dir</c>,
/// <c>enc: A256GCM</c> and the custom headers <c>iat</c> and <c>nonce</c>, keyed by the 64-hex-digit security key;
/// the answer comes back the same way. AES-GCM is in the base library, so this is the whole of it.
/// </summary>
public static class TossJwe
{
    public static string Encrypt(string plaintext, string securityKeyHex, DateTimeOffset issuedAt, string nonce)
    {
        var key = Key(securityKeyHex);
        var header = JsonSerializer.Serialize(new Dictionary<string, string>
        {
            ["alg"] = "dir", ["enc"] = "A256GCM", ["iat"] = issuedAt.ToString("yyyy-MM-dd'T'HH:mm:sszzz"), ["nonce"] = nonce,
        });
        var protectedHeader = Base64Url.EncodeToString(Encoding.UTF8.GetBytes(header));
        var iv = RandomNumberGenerator.GetBytes(12);
        var plain = Encoding.UTF8.GetBytes(plaintext);
        var cipher = new byte[plain.Length];
        var tag = new byte[16];
        using (var gcm = new AesGcm(key, 16))
            gcm.Encrypt(iv, plain, cipher, tag, Encoding.ASCII.GetBytes(protectedHeader));
        return $"{protectedHeader}..{Base64Url.EncodeToString(iv)}.{Base64Url.EncodeToString(cipher)}.{Base64Url.EncodeToString(tag)}";
    }

    /// <summary>Decrypts and authenticates; throws <see cref="CryptographicException"/> on a wrong key or a tampered token.</summary>
    public static (string Plaintext, JsonElement Header) Decrypt(string jwe, string securityKeyHex)
    {
        var parts = jwe.Trim().Split('.');
        if (parts.Length != 5 || parts[1].Length != 0) throw new CryptographicException("not a compact JWE with direct encryption");
        var header = JsonDocument.Parse(Base64Url.DecodeFromChars(parts[0])).RootElement.Clone();
        if (header.GetProperty("alg").GetString() != "dir" || header.GetProperty("enc").GetString() != "A256GCM")
            throw new CryptographicException("unsupported JWE algorithm");
        var iv = Base64Url.DecodeFromChars(parts[2]);
        var cipher = Base64Url.DecodeFromChars(parts[3]);
        var tag = Base64Url.DecodeFromChars(parts[4]);
        var plain = new byte[cipher.Length];
        using (var gcm = new AesGcm(Key(securityKeyHex), 16))
            gcm.Decrypt(iv, cipher, tag, plain, Encoding.ASCII.GetBytes(parts[0]));
        return (Encoding.UTF8.GetString(plain), header);
    }

    private static byte[] Key(string hex)
    {
        var key = Convert.FromHexString(hex);
        if (key.Length != 32) throw new ArgumentException("the Toss security key must be 64 hex digits (32 bytes)");
        return key;
    }
}
