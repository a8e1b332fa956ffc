using EvCharge.Ledger;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace EvCharge.Reconciliation;

public static class ReconciliationServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="ReconciliationService"/> (on demand: resolve it and call <c>RunAsync</c>) and the ledger reader
    /// it needs, for the same <paramref name="ledger"/> options the host gave <c>AddEvChargeLedger</c>. The periodic run is
    /// <c>IReconciliationGrain.Schedule(period)</c>.
    /// </summary>
    public static IServiceCollection AddEvChargeReconciliation(this IServiceCollection services, LedgerOptions ledger)
    {
        ArgumentNullException.ThrowIfNull(ledger);
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<ILedgerJournalReader>(_ => new SqlLedgerJournalReader(ledger));
        services.TryAddSingleton<ReconciliationService>();
        return services;
    }
}
