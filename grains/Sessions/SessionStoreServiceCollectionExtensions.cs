using EvCharge.Ledger;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace EvCharge.Sessions;

public static class SessionStoreServiceCollectionExtensions
{
    /// <summary>
    /// Registers the session store in the ledger's database (same provider and connection string) as
    /// <see cref="ISessionStore"/>, <see cref="ISessionIndex"/> and <see cref="ISessionStatistics"/>. One instance per
    /// process: its group commit is what makes many sessions' steps share a transaction. With
    /// <see cref="LedgerOptions.EnsureSchema"/> the tables are created at first use (standalone use without the silo's
    /// migrator, which applies the same DDL).
    /// </summary>
    public static IServiceCollection AddEvChargeSessionStore(this IServiceCollection services, LedgerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.IsPostgres)
        {
            if (string.IsNullOrWhiteSpace(options.ConnectionString))
                throw new ArgumentException("The session store on Postgres needs a connection string.", nameof(options));
            services.TryAddSingleton(_ => Init(new PostgresSessionStore(options.ConnectionString!), s => s.EnsureSchemaAsync(), options.EnsureSchema));
            Expose<PostgresSessionStore>(services);
        }
        else if (options.IsSqlite)
        {
            var path = string.IsNullOrWhiteSpace(options.ConnectionString) ? Path.Combine("data", "evcharge.db") : options.ConnectionString!;
            services.TryAddSingleton(_ => Init(new SqliteSessionStore(path), s => s.EnsureSchemaAsync(), options.EnsureSchema));
            Expose<SqliteSessionStore>(services);
        }
        else
        {
            throw new ArgumentException($"Unknown provider '{options.Provider}'; use Sqlite or Postgres.", nameof(options));
        }
        return services;
    }

    private static void Expose<T>(IServiceCollection services) where T : class, ISessionStore, ISessionIndex, ISessionStatistics
    {
        services.TryAddSingleton<ISessionStore>(sp => sp.GetRequiredService<T>());
        services.TryAddSingleton<ISessionIndex>(sp => sp.GetRequiredService<T>());
        services.TryAddSingleton<ISessionStatistics>(sp => sp.GetRequiredService<T>());
    }

    // Singleton factories are synchronous; the DDL is idempotent and quick, so blocking once at first resolve is fine
    // (outside a grain activation: the silo resolves the store at start, see EvChargeServiceCollectionExtensions).
    private static T Init<T>(T store, Func<T, Task> ensure, bool run)
    {
        if (run) ensure(store).GetAwaiter().GetResult();
        return store;
    }
}
