using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Serialization;
using Orleans.Storage;

namespace EvCharge.IntegrationTests.Infrastructure;

/// <summary>Grain storage and reminders of an in-process test cluster, set up as the silo's own (UseEvChargeStorage).</summary>
internal static class TestSiloStorage
{
    /// <summary>
    /// In memory (<paramref name="postgres"/> null) or on PostgreSQL; either way with Orleans' own serializer for state, as
    /// the silo does (Newtonsoft, the default, cannot read immutable collections back, so a charger grain could not
    /// reactivate), and reminders down to 200 ms.
    /// </summary>
    public static ISiloBuilder AddEvChargeTestStorage(this ISiloBuilder silo, string? postgres)
    {
        if (postgres is null)
        {
            silo.AddMemoryGrainStorage("evcharge", (OptionsBuilder<MemoryGrainStorageOptions> o) =>
                o.Configure<Serializer>((options, serializer) => options.GrainStorageSerializer = new OrleansGrainStorageSerializer(serializer)));
            silo.UseInMemoryReminderService();
        }
        else
        {
            silo.AddAdoNetGrainStorage("evcharge", (OptionsBuilder<AdoNetGrainStorageOptions> o) =>
                o.Configure<Serializer>((options, serializer) =>
                {
                    options.Invariant = "Npgsql";
                    options.ConnectionString = postgres;
                    options.GrainStorageSerializer = new OrleansGrainStorageSerializer(serializer);
                }));
            silo.UseAdoNetReminderService(o => { o.Invariant = "Npgsql"; o.ConnectionString = postgres; });
        }
        return silo.Configure<ReminderOptions>(o => o.MinimumReminderPeriod = TimeSpan.FromMilliseconds(200));
    }
}
