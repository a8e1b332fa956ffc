using EvCharge.Charging;
using EvCharge.Silo.Security;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace EvCharge.Silo.Apis;

/// <summary>
/// Seamless-charging bindings (vehicle id to wallet billing token). Operators look bindings up and revoke them,
/// also on a driver's request. The token is never returned: the view carries only its last four characters.
/// </summary>
public static class VehiclesApi
{
    public static RouteGroupBuilder MapVehiclesApi(this RouteGroupBuilder api)
    {
        var vehicles = api.MapGroup("/vehicles").WithTags("Vehicles").RequireAuthorization(EvChargePolicies.Operator);
        vehicles.MapGet("/{vehicleId}", Get).ProducesProblem(StatusCodes.Status404NotFound).WithSummary("A vehicle's seamless-charging binding (token masked)");
        vehicles.MapDelete("/{vehicleId}", Revoke).ProducesProblem(StatusCodes.Status404NotFound).WithSummary("Revoke a vehicle's binding (driver's request or fraud)");
        return api;
    }

    private static async Task<Results<Ok<VehicleBindingResponse>, ProblemHttpResult>> Get(string vehicleId, IGrainFactory grains)
    {
        if (!FieldErrors.IsId(vehicleId)) return ApiProblems.InvalidId("vehicleId");
        var view = await grains.GetGrain<IVehicleBindingGrain>(vehicleId).GetView();
        if (view is null) return ApiProblems.NotFound($"Vehicle {vehicleId} has no binding.");
        return TypedResults.Ok(view.ToResponse());
    }

    private static async Task<Results<Ok<VehicleBindingResponse>, ProblemHttpResult>> Revoke(string vehicleId, [FromQuery] string? reason, IGrainFactory grains)
    {
        var e = new FieldErrors();
        e.Id("vehicleId", vehicleId);
        if (reason is { Length: > 128 }) e.Add("reason", "must be at most 128 characters");
        if (e.Any) return e.ToResult();
        var binding = grains.GetGrain<IVehicleBindingGrain>(vehicleId);
        if (await binding.GetView() is null) return ApiProblems.NotFound($"Vehicle {vehicleId} has no binding.");
        if (await binding.Revoke(reason ?? "revoked_by_operator") is not { } revoked) return ApiProblems.NotFound($"Vehicle {vehicleId} has no binding.");
        return TypedResults.Ok(revoked.ToResponse());
    }
}
