using EvCharge.Ledger;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace EvCharge.Sessions;

public static class SessionIndexServiceCollectionExtensions
{
    /// <summary>
    /// Registers the operators' session index in the ledger's database (same provider and connection string).
    /// One instance per process: for SQLite it owns the process's writer connection to the index table.
    /// With <see cref="LedgerOptions.EnsureSchema"/> the table is created at first use (standalone use without the
    /// silo's migrator, which applies the same DDL as 0006_session_index).
    /// </summary>
    public static IServiceCollection AddEvChargeSessionIndex(this IServiceCollection services, LedgerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.IsPostgres)
        {
            if (string.IsNullOrWhiteSpace(options.ConnectionString))
                throw new ArgumentException("Session index on Postgres needs a connection string.", nameof(options));
            services.TryAddSingleton(_ => Init(new PostgresSessionIndex(options.ConnectionString!), i => i.EnsureSchemaAsync(), options.EnsureSchema));
            services.TryAddEnumerable(ServiceDescriptor.Singleton<ISessionIndex, PostgresSessionIndex>(sp => sp.GetRequiredService<PostgresSessionIndex>()));
            services.TryAddSingleton<ISessionStatistics>(sp => sp.GetRequiredService<PostgresSessionIndex>());
        }
        else if (options.IsSqlite)
        {
            var path = string.IsNullOrWhiteSpace(options.ConnectionString) ? Path.Combine("data", "evcharge.db") : options.ConnectionString!;
            services.TryAddSingleton(_ => Init(new SqliteSessionIndex(path), i => i.EnsureSchemaAsync(), options.EnsureSchema));
            services.TryAddEnumerable(ServiceDescriptor.Singleton<ISessionIndex, SqliteSessionIndex>(sp => sp.GetRequiredService<SqliteSessionIndex>()));
            services.TryAddSingleton<ISessionStatistics>(sp => sp.GetRequiredService<SqliteSessionIndex>());
        }
        else
        {
            throw new ArgumentException($"Unknown provider '{options.Provider}'; use Sqlite or Postgres.", nameof(options));
        }
        return services;
    }

    // Singleton factories are synchronous; the DDL is idempotent and quick, so blocking once at first resolve is fine.
    private static T Init<T>(T index, Func<T, Task> ensure, bool run)
    {
        if (run) ensure(index).GetAwaiter().GetResult();
        return index;
    }
}
