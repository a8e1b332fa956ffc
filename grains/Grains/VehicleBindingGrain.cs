using EvCharge.Charging;
using Microsoft.Extensions.Logging;

namespace EvCharge.Grains;

[GenerateSerializer]
public sealed record VehicleBindingRecord
{
    [Id(0)] public VehicleBindingRequest? Binding { get; init; }
    [Id(1)] public DateTimeOffset BoundAt { get; init; }
    [Id(2)] public bool Revoked { get; init; }
    [Id(3)] public string? RevokedReason { get; init; }
    [Id(4)] public string? ChargingAt { get; init; }
    [Id(5)] public DateOnly Day { get; init; }
    [Id(6)] public int ChargesToday { get; init; }
}

/// <summary>
/// A vehicle bound to a wallet for seamless (plug-in-and-pay) charging. A vehicle can charge at one charger at
/// a time, so a cloned vehicle id presented elsewhere while the real car charges is refused.
/// </summary>
internal sealed class VehicleBindingGrain(
    [PersistentState("vehicle", "evcharge")] IPersistentState<VehicleBindingRecord> state,
    TimeProvider clock,
    ILogger<VehicleBindingGrain> logger) : Grain, IVehicleBindingGrain
{
    private static readonly TimeSpan Kst = TimeSpan.FromHours(9);
    private VehicleBindingRecord S => state.State;
    private DateTimeOffset Now => clock.GetUtcNow();

    async Task<VehicleBindingView> IVehicleBindingGrain.Bind(VehicleBindingRequest request)
    {
        if (string.IsNullOrWhiteSpace(request.BillingToken)) throw new ArgumentException("A binding needs the provider's billing token.", nameof(request));
        if (request.PerChargeLimit < 0 || request.DailyChargeLimit < 0) throw new ArgumentOutOfRangeException(nameof(request), "Limits cannot be negative.");
        await Save(S with { Binding = request, BoundAt = Now, Revoked = false, RevokedReason = null });
        return View()!;
    }

    async Task<VehicleBindingView?> IVehicleBindingGrain.Revoke(string reason)
    {
        if (S.Binding is null) return null;
        // A charge already running keeps its hold and is paid; only the next plug-in is refused.
        await Save(S with { Revoked = true, RevokedReason = reason });
        return View();
    }

    Task<VehicleBindingView?> IVehicleBindingGrain.GetView() => Task.FromResult(View());

    Task<bool> IVehicleBindingGrain.IsBoundTo(string billingKey) => Task.FromResult(
        S.Binding is { } b && System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(
            System.Text.Encoding.UTF8.GetBytes(b.BillingToken), System.Text.Encoding.UTF8.GetBytes(billingKey)));

    async Task<BindingResolution> IVehicleBindingGrain.ResolveForCharge(string chargerId)
    {
        var b = S.Binding;
        if (b is null) return Refuse("vehicle_not_bound");
        if (S.Revoked) return Refuse("binding_revoked");
        if (b.TokenExpiresAt is { } exp && exp <= Now) return Refuse("token_expired");
        if (S.ChargingAt is { } at && at != chargerId)
        {
            logger.LogWarning("Vehicle {Vehicle} presented at {Charger} while charging at {Other}", this.GetPrimaryKeyString(), chargerId, at);
            return Refuse("vehicle_charging_elsewhere");
        }
        var today = DateOnly.FromDateTime(Now.ToOffset(Kst).DateTime);
        var count = S.Day == today ? S.ChargesToday : 0;
        if (b.DailyChargeLimit > 0 && count >= b.DailyChargeLimit) return Refuse("daily_limit_reached");
        await Save(S with { ChargingAt = chargerId, Day = today, ChargesToday = count + 1 });
        return new BindingResolution(true, null, b.Provider, b.BillingToken, b.PerChargeLimit);
    }

    async Task IVehicleBindingGrain.ChargeEnded(string chargerId)
    {
        if (S.ChargingAt != chargerId) return;
        await Save(S with { ChargingAt = null });
    }

    private static BindingResolution Refuse(string reason) => new(false, reason, null, null, 0);

    private VehicleBindingView? View() => S.Binding is not { } b ? null : new VehicleBindingView(
        this.GetPrimaryKeyString(), b.Provider, b.WalletRef, Mask(b.BillingToken), S.BoundAt, b.TokenExpiresAt, S.Revoked, S.RevokedReason,
        b.PerChargeLimit, b.DailyChargeLimit, S.ChargingAt, S.ChargesToday);

    private static string Mask(string token) => token.Length <= 4 ? "****" : $"****{token[^4..]}";

    private async Task Save(VehicleBindingRecord next)
    {
        state.State = next;
        await state.WriteStateAsync();
    }
}
