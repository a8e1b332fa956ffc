using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace EvCharge.Payments.Providers;

/// <summary>A provider's definite answer: its status and body (JSON, or an empty object when there is none).</summary>
internal sealed record ProviderAnswer(HttpStatusCode Status, JsonElement Body, bool Replayed)
{
    public bool Ok => (int)Status is >= 200 and < 300;

    public string? Str(string name) => Body.ValueKind == JsonValueKind.Object && Body.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    public static async Task<ProviderAnswer> ReadAsync(HttpResponseMessage response, CancellationToken ct)
    {
        var text = await response.Content.ReadAsStringAsync(ct);
        JsonElement body;
        try
        {
            body = string.IsNullOrWhiteSpace(text) ? EmptyObject : JsonDocument.Parse(text).RootElement.Clone();
        }
        catch (JsonException)
        {
            body = JsonSerializer.SerializeToElement(new { message = text.Length > 200 ? text[..200] : text });
        }
        var replayed = response.Headers.TryGetValues("Idempotent-Replayed", out var r) && r.Contains("true");
        return new ProviderAnswer(response.StatusCode, body, replayed);
    }

    private static readonly JsonElement EmptyObject = JsonDocument.Parse("{}").RootElement.Clone();
}

internal static class ProviderJson
{
    public static readonly JsonSerializerOptions Web = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>Snake_case for KakaoPay's bodies.</summary>
    public static readonly JsonSerializerOptions Snake = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>Bytes, not a lazy stream: every retry re-sends exactly the same body under the same key.</summary>
    public static ByteArrayContent Content(object body, JsonSerializerOptions options)
    {
        var c = new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(body, body.GetType(), options));
        c.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return c;
    }

    public static ByteArrayContent Form(IEnumerable<KeyValuePair<string, string>> fields)
    {
        var text = string.Join('&', fields.Select(f => Uri.EscapeDataString(f.Key) + "=" + Uri.EscapeDataString(f.Value)));
        var c = new ByteArrayContent(Encoding.UTF8.GetBytes(text));
        c.Headers.ContentType = new MediaTypeHeaderValue("application/x-www-form-urlencoded");
        return c;
    }

    public static long Long(this JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt64() : 0;

    public static string? Str(this JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    public static DateTimeOffset? Time(this JsonElement e, string name) =>
        e.Str(name) is { } s && DateTimeOffset.TryParse(s, out var t) ? t : null;

    public static IEnumerable<JsonElement> Items(this JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Array ? v.EnumerateArray() : [];

    public static string Serialize<T>(T value) => JsonSerializer.Serialize(value, Web);
    public static T Deserialize<T>(string json) => JsonSerializer.Deserialize<T>(json, Web)!;
}
