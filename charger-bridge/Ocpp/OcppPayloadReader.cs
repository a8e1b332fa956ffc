using System.Globalization;
using System.Text.Json;

namespace EvCharge.ChargerBridge.Ocpp;

/// <summary>
/// Reads one JSON object of an OCPP payload field by field and enforces the OCPP 1.6 schema facts for it:
/// required fields, JSON types, enums, CiString lengths, non-negative integers, RFC 3339 timestamps and no
/// properties beyond those the schema lists. Violations throw <see cref="OcppException"/> with the code the
/// OCPP-J spec names, and a description that says which field (by JSON path) broke which rule.
/// </summary>
public readonly struct OcppPayloadReader
{
    private readonly JsonElement _element;
    private readonly string _path;

    private OcppPayloadReader(JsonElement element, string path)
    {
        _element = element;
        _path = path;
    }

    /// <summary>The payload object of a CALL; <paramref name="allowed"/> lists every property its schema knows.</summary>
    public static OcppPayloadReader ForObject(JsonElement element, string path, params ReadOnlySpan<string> allowed)
    {
        if (element.ValueKind != JsonValueKind.Object)
            throw new OcppException(path.Length == 0 ? OcppErrorCode.FormationViolation : OcppErrorCode.TypeConstraintViolation,
                $"{Display(path)} must be a JSON object");
        foreach (var property in element.EnumerateObject())
        {
            if (!Contains(allowed, property.Name))
                throw new OcppException(OcppErrorCode.FormationViolation,
                    $"{Display(Join(path, property.Name))} is not a property of this message");
        }
        return new OcppPayloadReader(element, path);
    }

    public string RequiredString(string name, int maxLength) =>
        OptionalString(name, maxLength) ?? throw Missing(name);

    public string? OptionalString(string name, int maxLength)
    {
        if (!TryGet(name, out var value)) return null;
        if (value.ValueKind != JsonValueKind.String)
            throw WrongType(name, "a string");
        var text = value.GetString()!;
        if (text.Length > maxLength)
            throw new OcppException(OcppErrorCode.PropertyConstraintViolation,
                $"{Display(Join(_path, name))} exceeds its maximum length of {maxLength}");
        return text;
    }

    /// <summary>A string restricted to the values in <paramref name="allowed"/> (case-sensitive, as the schema says).</summary>
    public string RequiredEnum(string name, IReadOnlySet<string> allowed) =>
        OptionalEnum(name, allowed) ?? throw Missing(name);

    public string? OptionalEnum(string name, IReadOnlySet<string> allowed)
    {
        if (!TryGet(name, out var value)) return null;
        if (value.ValueKind != JsonValueKind.String)
            throw WrongType(name, "a string");
        var text = value.GetString()!;
        if (!allowed.Contains(text))
            throw new OcppException(OcppErrorCode.PropertyConstraintViolation,
                $"{Display(Join(_path, name))} has a value that is not allowed");
        return text;
    }

    public int RequiredInt(string name, int min = 0) => OptionalInt(name, min) ?? throw Missing(name);

    public int? OptionalInt(string name, int min = 0)
    {
        if (!TryGet(name, out var value)) return null;
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt32(out var number))
            throw WrongType(name, "an integer");
        if (number < min)
            throw new OcppException(OcppErrorCode.PropertyConstraintViolation,
                $"{Display(Join(_path, name))} must be at least {min}");
        return number;
    }

    public long RequiredLong(string name, long min = 0)
    {
        if (!TryGet(name, out var value)) throw Missing(name);
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt64(out var number))
            throw WrongType(name, "an integer");
        if (number < min)
            throw new OcppException(OcppErrorCode.PropertyConstraintViolation,
                $"{Display(Join(_path, name))} must be at least {min}");
        return number;
    }

    public DateTimeOffset RequiredDateTime(string name) => OptionalDateTime(name) ?? throw Missing(name);

    public DateTimeOffset? OptionalDateTime(string name)
    {
        if (!TryGet(name, out var value)) return null;
        if (value.ValueKind != JsonValueKind.String)
            throw WrongType(name, "an RFC 3339 date-time string");
        if (!TryParseTimestamp(value, out var timestamp))
            throw new OcppException(OcppErrorCode.TypeConstraintViolation,
                $"{Display(Join(_path, name))} must be an RFC 3339 date-time with a time zone, e.g. 2025-01-31T09:30:00Z");
        return timestamp;
    }

    /// <summary>The items of a required array of objects with at least <paramref name="minItems"/> elements.</summary>
    public JsonElement.ArrayEnumerator RequiredArray(string name, int minItems) =>
        OptionalArray(name, minItems) ?? throw Missing(name);

    public JsonElement.ArrayEnumerator? OptionalArray(string name, int minItems = 0)
    {
        if (!TryGet(name, out var value)) return null;
        if (value.ValueKind != JsonValueKind.Array)
            throw WrongType(name, "an array");
        if (value.GetArrayLength() < minItems)
            throw new OcppException(OcppErrorCode.OccurenceConstraintViolation,
                $"{Display(Join(_path, name))} must contain at least {minItems} element(s)");
        return value.EnumerateArray();
    }

    /// <summary>A nested object, read with its own allowed properties.</summary>
    public OcppPayloadReader Child(JsonElement element, string childPath, params ReadOnlySpan<string> allowed) =>
        ForObject(element, Join(_path, childPath), allowed);

    public string PathOf(string name) => Join(_path, name);

    // A present property set to null is read as absent: several charger firmwares send "field": null for
    // optional fields, and a required one still fails as missing.
    private bool TryGet(string name, out JsonElement value) =>
        _element.TryGetProperty(name, out value) && value.ValueKind != JsonValueKind.Null;

    private OcppException Missing(string name) =>
        new(OcppErrorCode.OccurenceConstraintViolation, $"Required property {Display(Join(_path, name))} is missing");

    private OcppException WrongType(string name, string expected) =>
        new(OcppErrorCode.TypeConstraintViolation, $"{Display(Join(_path, name))} must be {expected}");

    private static bool TryParseTimestamp(JsonElement value, out DateTimeOffset timestamp)
    {
        timestamp = default;
        var text = value.GetString();
        if (string.IsNullOrEmpty(text) || text.Length < 20 || (text[10] != 'T' && text[10] != 't'))
            return false;
        // RFC 3339 demands an explicit zone; a local time without one cannot be billed correctly.
        var last = text[^1];
        var hasZone = last is 'Z' or 'z' || (text.Length >= 6 && text[^3] == ':' && text[^6] is '+' or '-');
        if (!hasZone) return false;
        return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out timestamp);
    }

    private static bool Contains(ReadOnlySpan<string> names, string name)
    {
        foreach (var candidate in names)
            if (string.Equals(candidate, name, StringComparison.Ordinal)) return true;
        return false;
    }

    private static string Join(string path, string name) => path.Length == 0 ? name : $"{path}.{name}";
    private static string Display(string path) => path.Length == 0 ? "payload" : $"'{path}'";
}
