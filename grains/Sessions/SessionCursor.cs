using System.Buffers.Text;
using System.Globalization;
using System.Text;

namespace EvCharge.Sessions;

/// <summary>
/// The opaque keyset cursor: the last row's (created_at in Unix microseconds, session id), base64url-encoded.
/// Opaque so clients do not build their own; decoding is strict so a tampered cursor is a 400, not a wrong page.
/// </summary>
public static class SessionCursor
{
    public static string Encode(long createdAtMicros, string sessionId) =>
        Base64Url.EncodeToString(Encoding.UTF8.GetBytes($"{createdAtMicros.ToString(CultureInfo.InvariantCulture)}|{sessionId}"));

    public static bool TryDecode(string? cursor, out long createdAtMicros, out string sessionId)
    {
        createdAtMicros = 0;
        sessionId = "";
        if (string.IsNullOrEmpty(cursor) || cursor.Length > 512) return false;
        try
        {
            var text = Encoding.UTF8.GetString(Base64Url.DecodeFromChars(cursor));
            var bar = text.IndexOf('|');
            if (bar <= 0 || bar == text.Length - 1) return false;
            if (!long.TryParse(text.AsSpan(0, bar), NumberStyles.Integer, CultureInfo.InvariantCulture, out createdAtMicros)) return false;
            sessionId = text[(bar + 1)..];
            return true;
        }
        catch (FormatException)
        {
            return false;
        }
    }

    public static long ToMicros(DateTimeOffset t) => (t.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10;
    public static DateTimeOffset FromMicros(long micros) => DateTimeOffset.UnixEpoch.AddTicks(micros * 10);

    /// <summary>Truncates to the microsecond both stores keep, so a cursor always matches the stored value.</summary>
    public static DateTimeOffset Truncate(DateTimeOffset t) => FromMicros(ToMicros(t));

    public static void Validate(SessionQuery query)
    {
        if (query.Limit is < 1 or > SessionQueryLimits.MaxLimit)
            throw new ArgumentOutOfRangeException(nameof(query), $"limit must be between 1 and {SessionQueryLimits.MaxLimit}");
        if (query.Cursor is not null && !TryDecode(query.Cursor, out _, out _))
            throw new ArgumentException("cursor is not a cursor this service issued", nameof(query));
    }
}

public static class SessionQueryLimits
{
    public const int MaxLimit = 200;
}
