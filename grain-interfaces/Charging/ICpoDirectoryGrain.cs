namespace EvCharge.Charging;

/// <summary>
/// The CPOs that have a contract, so the platform operator can list them (grains are addressed by key, not searched).
/// One grain (key 0); <see cref="ICpoGrain.SetContract"/> adds to it. Written once per new CPO, read by the console
/// and <c>GET /api/v1/cpos</c>: never on a charging path.
/// </summary>
public interface ICpoDirectoryGrain : IGrainWithIntegerKey
{
    Task Add(string cpoId);
    [Orleans.Concurrency.ReadOnly]
    Task<IReadOnlyList<string>> GetCpoIds();
}
