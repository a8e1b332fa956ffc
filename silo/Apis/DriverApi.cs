using System.Text.RegularExpressions;
using EvCharge.Charging;
using Microsoft.AspNetCore.Http.HttpResults;

namespace EvCharge.Silo.Apis;

/// <summary>
/// The driver's side of seamless charging, called by the wallet app on the phone. The operator API is closed to
/// phones; here the phone authenticates with the saved billing key its wallet provider issued after the driver
/// consented (header <c>X-Billing-Key</c>): holding that key is what the binding is about, and EvCharge keeps only
/// that reference, never card data.
/// </summary>
public static partial class DriverApi
{
    public const string BillingKeyHeader = "X-Billing-Key";

    // EVCCID / MAC as chargers send it after "VID:" (the Autocharge convention); idTag is CiString20, so <= 16 here.
    [GeneratedRegex("^[0-9A-Za-z]{6,16}$")]
    private static partial Regex VehicleIdPattern();

    public sealed record BindVehicleRequest(
        string? VehicleId, string? Provider, string? BillingKey, string? WalletRef, long? PerChargeLimit,
        int? DailyChargeLimit, DateTimeOffset? TokenExpiresAt);

    public static IEndpointRouteBuilder MapDriverApi(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/api/v1/driver/vehicles").WithTags("Driver");
        group.MapPost("/", Bind).AllowAnonymous().ProducesValidationProblem().ProducesProblem(StatusCodes.Status409Conflict)
            .WithSummary("Bind a vehicle to the wallet's saved billing key (the driver consented in the wallet app)");
        group.MapGet("/{vehicleId}", Get).AllowAnonymous().ProducesProblem(StatusCodes.Status404NotFound)
            .WithSummary("The binding, for the phone holding its billing key (X-Billing-Key)");
        group.MapDelete("/{vehicleId}", Revoke).AllowAnonymous().ProducesProblem(StatusCodes.Status404NotFound)
            .WithSummary("Revoke the binding, for the phone holding its billing key (X-Billing-Key)");
        return routes;
    }

    private static async Task<Results<Created<VehicleBindingResponse>, ProblemHttpResult>> Bind(BindVehicleRequest? body, IGrainFactory grains)
    {
        var errors = new Dictionary<string, string[]>();
        if (body is null) return TypedResults.Problem(title: "A JSON body is required.", statusCode: 400);
        if (body.VehicleId is null || !VehicleIdPattern().IsMatch(body.VehicleId)) errors["vehicleId"] = ["6 to 16 letters or digits (EVCCID or MAC without separators)."];
        if (string.IsNullOrWhiteSpace(body.Provider) || !EvChargeServiceCollectionExtensions.DefaultProviders.Contains(body.Provider, StringComparer.OrdinalIgnoreCase))
            errors["provider"] = [$"One of: {string.Join(", ", EvChargeServiceCollectionExtensions.DefaultProviders)}."];
        if (string.IsNullOrWhiteSpace(body.BillingKey) || body.BillingKey.Length > 200) errors["billingKey"] = ["The billing key the wallet provider issued after consent."];
        if (body.PerChargeLimit is < 0) errors["perChargeLimit"] = ["Cannot be negative."];
        if (body.DailyChargeLimit is < 0) errors["dailyChargeLimit"] = ["Cannot be negative."];
        if (errors.Count > 0) return TypedResults.Problem(new HttpValidationProblemDetails(errors) { Status = StatusCodes.Status400BadRequest });

        var grain = grains.GetGrain<IVehicleBindingGrain>(body.VehicleId!.ToUpperInvariant());
        var existing = await grain.GetView();
        if (existing is { Revoked: false } && !await grain.IsBoundTo(body.BillingKey!))
            return TypedResults.Problem(title: "This vehicle is bound to another wallet; the driver must revoke that binding first.", statusCode: 409);
        var view = await grain.Bind(new VehicleBindingRequest(body.Provider!.ToLowerInvariant(), body.WalletRef ?? "", body.BillingKey!,
            body.TokenExpiresAt, body.PerChargeLimit ?? 0, body.DailyChargeLimit ?? 0));
        return TypedResults.Created($"/api/v1/driver/vehicles/{view.VehicleId}", view.ToResponse());
    }

    private static async Task<Results<Ok<VehicleBindingResponse>, ProblemHttpResult>> Get(string vehicleId, HttpRequest request, IGrainFactory grains)
    {
        if (await Owned(vehicleId, request, grains) is { } grain && await grain.GetView() is { } view) return TypedResults.Ok(view.ToResponse());
        return TypedResults.Problem(title: "No binding for this vehicle and billing key.", statusCode: 404);
    }

    private static async Task<Results<Ok<VehicleBindingResponse>, ProblemHttpResult>> Revoke(string vehicleId, HttpRequest request, IGrainFactory grains)
    {
        if (await Owned(vehicleId, request, grains) is { } grain && await grain.Revoke("driver_revoked") is { } view) return TypedResults.Ok(view.ToResponse());
        return TypedResults.Problem(title: "No binding for this vehicle and billing key.", statusCode: 404);
    }

    /// <summary>The binding grain if the caller holds its billing key; otherwise null (404, revealing nothing).</summary>
    private static async Task<IVehicleBindingGrain?> Owned(string vehicleId, HttpRequest request, IGrainFactory grains)
    {
        if (!VehicleIdPattern().IsMatch(vehicleId) || request.Headers[BillingKeyHeader].ToString() is not { Length: > 0 } key) return null;
        var grain = grains.GetGrain<IVehicleBindingGrain>(vehicleId.ToUpperInvariant());
        return await grain.IsBoundTo(key) ? grain : null;
    }
}
