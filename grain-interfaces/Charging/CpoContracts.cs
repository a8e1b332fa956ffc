namespace EvCharge.Charging;

/// <summary>A CPO's contract with the platform: who gets paid and how much the platform keeps.</summary>
[GenerateSerializer, Immutable]
public sealed record CpoContract(
    [property: Id(0)] string Name,
    [property: Id(1)] string PayeeAccount,
    [property: Id(2)] Commission Commission,
    [property: Id(3)] IReadOnlyList<Tariff> Tariffs);
