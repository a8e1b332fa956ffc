using EvCharge.Charging;

namespace EvCharge.Grains;

[GenerateSerializer]
public sealed record CpoRecord
{
    [Id(0)] public CpoContract? Contract { get; init; }
    [Id(1)] public IReadOnlyList<string> Chargers { get; init; } = [];
}

/// <summary>A CPO's contract (commission, payee account, tariffs) and the chargers it runs.</summary>
internal sealed class CpoGrain([PersistentState("cpo", "evcharge")] IPersistentState<CpoRecord> state) : Grain, ICpoGrain
{
    private CpoRecord S => state.State;

    async Task ICpoGrain.SetContract(CpoContract contract)
    {
        if (string.IsNullOrWhiteSpace(contract.PayeeAccount)) throw new ArgumentException("A CPO needs a payee account.", nameof(contract));
        if (contract.Commission.BasisPoints is < 0 or > 10_000 || contract.Commission.FixedPerSession < 0)
            throw new ArgumentOutOfRangeException(nameof(contract), "Commission must be 0..10000 basis points and a non-negative fixed amount.");
        if (contract.Tariffs.Any(t => t.PricePerKwh < 0 || t.PricePerMinute < 0 || t.IdleFeePerMinute < 0))
            throw new ArgumentOutOfRangeException(nameof(contract), "Tariff prices cannot be negative.");
        await Save(S with { Contract = contract });
        await GrainFactory.GetGrain<ICpoDirectoryGrain>(0).Add(this.GetPrimaryKeyString()); // so operators can list CPOs
    }

    Task<CpoContract?> ICpoGrain.GetContract() => Task.FromResult(S.Contract);

    async Task ICpoGrain.AddCharger(string chargerId)
    {
        if (S.Chargers.Contains(chargerId)) return;
        await Save(S with { Chargers = [.. S.Chargers, chargerId] });
    }

    Task<IReadOnlyList<string>> ICpoGrain.GetChargers() => Task.FromResult(S.Chargers);

    private async Task Save(CpoRecord next)
    {
        state.State = next;
        await state.WriteStateAsync();
    }
}
