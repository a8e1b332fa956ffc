using System.Security.Cryptography;
using EvCharge.Charging;

namespace EvCharge.Grains;

[GenerateSerializer]
public sealed record DriverLinkKey
{
    [Id(0)] public byte[]? Key { get; init; }
}

/// <summary>
/// The cluster's one key for drivers' capability links (<see cref="Driver.DriverLinks"/>): made on first use, kept in grain
/// storage so every silo and every restart derives the same links. Losing it would only invalidate links already handed out.
/// </summary>
internal sealed class DriverLinkKeyGrain(
    [PersistentState("driver-link-key", "evcharge")] IPersistentState<DriverLinkKey> state) : Grain, IDriverLinkKeyGrain
{
    async Task<byte[]> IDriverLinkKeyGrain.GetKey()
    {
        if (state.State.Key is { Length: 32 } key) return key;
        state.State = new DriverLinkKey { Key = RandomNumberGenerator.GetBytes(32) };
        await state.WriteStateAsync();
        return state.State.Key!;
    }
}
