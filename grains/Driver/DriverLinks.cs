using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using EvCharge.Charging;
using Microsoft.Extensions.Options;

namespace EvCharge.Driver;

/// <summary>
/// The driver's page of a session is reached by a capability link, <c>/s/{sessionId}/{token}</c>: the session id alone
/// is no secret (it is the charger's idTag, the wallet's order id, in operators' lists), so the token is an HMAC of it
/// under a cluster-wide key (<see cref="IDriverLinkKeyGrain"/>). Nothing is stored per session, every silo derives the
/// same link, and one link cannot be turned into another session's.
/// </summary>
public sealed class DriverLinks(IGrainFactory grains, IOptions<DriverOptions> options)
{
    private const int TokenBytes = 16; // 128 bits: not guessable, short enough for a QR code on a charger's display
    private byte[]? _key;

    public async ValueTask<string> TokenFor(string sessionId)
    {
        var key = _key ??= await grains.GetGrain<IDriverLinkKeyGrain>(0).GetKey();
        return Token(key, sessionId);
    }

    /// <summary>Constant-time check of a token against the session id.</summary>
    public async ValueTask<bool> Verify(string sessionId, string? token)
    {
        if (string.IsNullOrEmpty(sessionId) || token is not { Length: > 0 and < 64 }) return false;
        var expected = Encoding.ASCII.GetBytes(await TokenFor(sessionId));
        return CryptographicOperations.FixedTimeEquals(expected, Encoding.ASCII.GetBytes(token));
    }

    public async ValueTask<string> PathFor(string sessionId) => $"/s/{Uri.EscapeDataString(sessionId)}/{await TokenFor(sessionId)}";

    /// <summary>The absolute link (for the charger's display and the wallet's receipt), when the public address is known.</summary>
    public async ValueTask<Uri?> UrlFor(string sessionId) =>
        options.Value.PublicBaseUrl is { } root ? new Uri(root, await PathFor(sessionId)) : null;

    public static string Token(byte[] key, string sessionId)
    {
        var mac = HMACSHA256.HashData(key, Encoding.UTF8.GetBytes("evcharge-driver-page|" + sessionId));
        return Base64Url.EncodeToString(mac.AsSpan(0, TokenBytes));
    }
}
