using EvCharge.Charging;
using EvCharge.Silo.Security;
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
        vehicles.MapGet("/{vehicleId}", Get).WithSummary("A vehicle's seamless-charging binding (token masked)");
        vehicles.MapDelete("/{vehicleId}", Revoke).WithSummary("Revoke a vehicle's binding (driver's request or fraud)");
        return api;
    }

    private static async Task<IResult> Get(string vehicleId, IGrainFactory grains)
    {
        if (!FieldErrors.IsId(vehicleId)) return ApiProblems.InvalidId("vehicleId");
        var view = await grains.GetGrain<IVehicleBindingGrain>(vehicleId).GetView();
        return view is null ? ApiProblems.NotFound($"Vehicle {vehicleId} has no binding.") : TypedResults.Ok(view);
    }

    private static async Task<IResult> Revoke(string vehicleId, [FromQuery] string? reason, IGrainFactory grains)
    {
        var e = new FieldErrors();
        e.Id("vehicleId", vehicleId);
        if (reason is { Length: > 128 }) e.Add("reason", "must be at most 128 characters");
        if (e.Any) return e.ToResult();
        var binding = grains.GetGrain<IVehicleBindingGrain>(vehicleId);
        if (await binding.GetView() is null) return ApiProblems.NotFound($"Vehicle {vehicleId} has no binding.");
        return TypedResults.Ok(await binding.Revoke(reason ?? "revoked_by_operator"));
    }
}
