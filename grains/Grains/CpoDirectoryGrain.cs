using EvCharge.Charging;

namespace EvCharge.Grains;

[GenerateSerializer]
public sealed record CpoDirectoryRecord
{
    [Id(0)] public IReadOnlyList<string> CpoIds { get; init; } = [];
}

/// <summary>Every CPO id that was given a contract; see <see cref="ICpoDirectoryGrain"/>.</summary>
internal sealed class CpoDirectoryGrain([PersistentState("cpo-directory", "evcharge")] IPersistentState<CpoDirectoryRecord> state)
    : Grain, ICpoDirectoryGrain
{
    async Task ICpoDirectoryGrain.Add(string cpoId)
    {
        if (state.State.CpoIds.Contains(cpoId)) return;
        state.State = state.State with { CpoIds = [.. state.State.CpoIds, cpoId] };
        await state.WriteStateAsync();
    }

    Task<IReadOnlyList<string>> ICpoDirectoryGrain.GetCpoIds() => Task.FromResult(state.State.CpoIds);
}
