using EvCharge.Silo.Persistence;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Serialization;
using Orleans.Storage;

namespace EvCharge.Silo.Extensions;

public static class PersistenceExtensions
{
    /// <summary>Name of the grain storage every EvCharge grain persists to (<c>[PersistentState("...", "evcharge")]</c>).</summary>
    public const string GrainStorageName = "evcharge";

    /// <summary>
    /// Durable Orleans state for a profile:
    /// <list type="bullet">
    /// <item>Postgres: ADO.NET clustering, ADO.NET grain storage "evcharge" and ADO.NET reminders, invariant "Npgsql".</item>
    /// <item>Sqlite: localhost clustering (single silo), ADO.NET grain storage "evcharge" and ADO.NET reminders on the
    /// SQLite file, invariant "System.Data.SQLite" (Orleans loads Microsoft.Data.Sqlite for it).</item>
    /// </list>
    /// With <see cref="StorageProfile.MigrateOnStart"/> the schema migration runs at the very first silo lifecycle
    /// stage, before clustering, storage or reminders read their queries from <c>OrleansQuery</c>.
    /// </summary>
    public static ISiloBuilder UseEvChargeStorage(this ISiloBuilder builder, StorageProfile profile)
    {
        ArgumentNullException.ThrowIfNull(profile);
        var connectionString = profile.EffectiveConnectionString;
        var invariant = profile.AdoNetInvariant;

        builder.Configure<ClusterOptions>(o =>
        {
            o.ClusterId = profile.ClusterId;
            o.ServiceId = profile.ServiceId;
        });

        if (profile.Provider == StorageProvider.Postgres)
        {
            builder.UseAdoNetClustering(o =>
            {
                o.Invariant = invariant;
                o.ConnectionString = connectionString;
            });
        }
        else
        {
            builder.UseLocalhostClustering(profile.SiloPort, profile.GatewayPort, serviceId: profile.ServiceId, clusterId: profile.ClusterId);
        }

        // Orleans' default storage serializer is Newtonsoft JSON with reference preservation, which cannot read back
        // the immutable collections our state records use (ChargerRecord.Connectors: "Cannot preserve reference to
        // readonly dictionary"), so a charger grain failed to activate after any restart or deactivation. The state
        // records are [GenerateSerializer] types with [Id]s: store them with Orleans' own version-tolerant serializer.
        builder.AddAdoNetGrainStorage(GrainStorageName, (OptionsBuilder<AdoNetGrainStorageOptions> options) =>
            options.Configure<Serializer>((o, serializer) =>
            {
                o.Invariant = invariant;
                o.ConnectionString = connectionString;
                o.GrainStorageSerializer = new OrleansGrainStorageSerializer(serializer);
            }));
        builder.UseAdoNetReminderService(o =>
        {
            o.Invariant = invariant;
            o.ConnectionString = connectionString;
        });

        if (profile.MigrateOnStart)
            builder.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp =>
                new SchemaMigrationParticipant(profile.Provider.ToString(), connectionString, sp.GetService<ILoggerFactory>()));

        return builder;
    }

    private sealed class SchemaMigrationParticipant(string provider, string connectionString, ILoggerFactory? loggers)
        : ILifecycleParticipant<ISiloLifecycle>
    {
        public void Participate(ISiloLifecycle lifecycle) =>
            lifecycle.Subscribe("EvCharge.SchemaMigration", ServiceLifecycleStage.First,
                ct => SchemaMigrator.MigrateAsync(provider, connectionString, loggers?.CreateLogger("EvCharge.SchemaMigrator"), ct));
    }
}
