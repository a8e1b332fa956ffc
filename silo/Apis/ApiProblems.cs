using System.Text.RegularExpressions;
using EvCharge.Charging;
using Microsoft.AspNetCore.Http.HttpResults;

namespace EvCharge.Silo.Apis;

/// <summary>Field errors collected while validating one request; answered as an RFC 9457 validation problem (400).</summary>
internal sealed partial class FieldErrors
{
    private readonly Dictionary<string, List<string>> _errors = new(StringComparer.Ordinal);

    public bool Any => _errors.Count > 0;

    public FieldErrors Add(string field, string message)
    {
        if (!_errors.TryGetValue(field, out var list)) _errors[field] = list = [];
        list.Add(message);
        return this;
    }

    public void Require(string field, string? value, int max = 128)
    {
        if (string.IsNullOrWhiteSpace(value)) Add(field, "is required");
        else if (value.Length > max) Add(field, $"must be at most {max} characters");
    }

    /// <summary>Identifiers end up in MQTT topics, ledger account names and provider payloads: keep them plain.</summary>
    public void Id(string field, string? value, bool required = true)
    {
        if (value is null) { if (required) Add(field, "is required"); return; }
        if (!IdPattern().IsMatch(value)) Add(field, "must be 1-64 characters of letters, digits, '.', '_', '-' or ':'");
    }

    public void Range(string field, long? value, long min, long max, bool required = true)
    {
        if (value is null) { if (required) Add(field, "is required"); return; }
        if (value < min || value > max) Add(field, $"must be between {min} and {max}");
    }

    /// <summary>A 400 validation problem (<c>errors</c> per field), as the same result type as every other problem answer.</summary>
    public ProblemHttpResult ToResult() => TypedResults.Problem(new HttpValidationProblemDetails(_errors.ToDictionary(e => e.Key, e => e.Value.ToArray()))
    {
        Status = StatusCodes.Status400BadRequest, Title = "The request is not valid.",
    });

    [GeneratedRegex("^[A-Za-z0-9._:-]{1,64}$")]
    private static partial Regex IdPattern();

    public static bool IsId(string? value) => value is not null && IdPattern().IsMatch(value);
}

/// <summary>
/// Problem answers as typed results (<see cref="ProblemHttpResult"/>), so handlers can declare them in their
/// <c>Results&lt;...&gt;</c>; endpoints list the status codes they answer with <c>ProducesProblem</c> for the OpenAPI document.
/// </summary>
internal static class ApiProblems
{
    public static ProblemHttpResult NotFound(string what) =>
        TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not found", detail: what);

    public static ProblemHttpResult Forbidden(string detail) =>
        TypedResults.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Forbidden", detail: detail);

    public static ProblemHttpResult Conflict(string detail, string? code = null) =>
        TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Conflict", detail: detail,
            extensions: code is null ? null : new Dictionary<string, object?> { ["code"] = code });

    public static ProblemHttpResult Unprocessable(string detail, string? code = null) =>
        TypedResults.Problem(statusCode: StatusCodes.Status422UnprocessableEntity, title: "The request cannot be carried out.", detail: detail,
            extensions: code is null ? null : new Dictionary<string, object?> { ["code"] = code });

    public static ProblemHttpResult Unavailable(string detail) =>
        TypedResults.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "A dependency is unavailable.", detail: detail);

    public static ProblemHttpResult InvalidId(string field) => new FieldErrors().Add(field, "is not a valid identifier").ToResult();
}

/// <summary>Korea Standard Time has no daylight saving: a fixed +09:00 offset is exact.</summary>
internal static class Kst
{
    public static readonly TimeSpan Offset = TimeSpan.FromHours(9);
    public static (DateTimeOffset From, DateTimeOffset To) Day(DateOnly day)
    {
        var from = new DateTimeOffset(day.ToDateTime(TimeOnly.MinValue), Offset);
        return (from, from.AddDays(1));
    }
}

/// <summary>JSON bodies: every member nullable so a missing field is a field error, not a binding failure.</summary>
public sealed record TimeOfUseBandBody(int? StartHour, int? EndHour, long? PricePerKwh);

public sealed record TariffBody(
    string? TariffId, long? PricePerKwh, List<TimeOfUseBandBody>? TimeOfUse = null, long? PricePerMinute = null,
    long? IdleFeePerMinute = null, int? IdleGraceMinutes = null, long? MinimumBillableWh = null, int? MinimumBillableSeconds = null)
{
    internal void Validate(FieldErrors e, string prefix, string? routeTariffId = null)
    {
        if (routeTariffId is null) e.Id($"{prefix}tariffId", TariffId);
        else if (TariffId is not null && TariffId != routeTariffId) e.Add($"{prefix}tariffId", "must match the tariff id in the path");
        e.Range($"{prefix}pricePerKwh", PricePerKwh, 0, 100_000);
        e.Range($"{prefix}pricePerMinute", PricePerMinute, 0, 100_000, required: false);
        e.Range($"{prefix}idleFeePerMinute", IdleFeePerMinute, 0, 100_000, required: false);
        e.Range($"{prefix}idleGraceMinutes", IdleGraceMinutes, 0, 1_440, required: false);
        e.Range($"{prefix}minimumBillableWh", MinimumBillableWh, 0, 1_000_000, required: false);
        e.Range($"{prefix}minimumBillableSeconds", MinimumBillableSeconds, 0, 86_400, required: false);
        for (var i = 0; i < (TimeOfUse?.Count ?? 0); i++)
        {
            var b = TimeOfUse![i];
            if (b is null) { e.Add($"{prefix}timeOfUse[{i}]", "is required"); continue; }
            e.Range($"{prefix}timeOfUse[{i}].startHour", b.StartHour, 0, 23);
            e.Range($"{prefix}timeOfUse[{i}].endHour", b.EndHour, 0, 24);
            e.Range($"{prefix}timeOfUse[{i}].pricePerKwh", b.PricePerKwh, 0, 100_000);
            if (b.StartHour is { } s && b.EndHour is { } en && s == en) e.Add($"{prefix}timeOfUse[{i}]", "startHour and endHour must differ");
        }
    }

    internal Tariff ToTariff(string? id = null) => new(
        id ?? TariffId!, PricePerKwh!.Value,
        (TimeOfUse ?? []).Select(b => new TimeOfUseBand(b.StartHour!.Value, b.EndHour!.Value, b.PricePerKwh!.Value)).ToList(),
        PricePerMinute ?? 0, IdleFeePerMinute ?? 0, IdleGraceMinutes ?? 0, MinimumBillableWh ?? 0, MinimumBillableSeconds ?? 0);
}
