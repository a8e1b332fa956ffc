using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace EvCharge.Ledger;

/// <summary>Where the ledger lives. Bound from configuration section <c>Ledger</c> by the host.</summary>
public sealed class LedgerOptions
{
    /// <summary>"Sqlite" (embedded default) or "Postgres" (cluster profile).</summary>
    public string Provider { get; set; } = "Sqlite";

    /// <summary>
    /// Sqlite: a file path or a Microsoft.Data.Sqlite connection string (default <c>data/evcharge.db</c>).
    /// Postgres: an Npgsql connection string (required).
    /// </summary>
    public string? ConnectionString { get; set; }

    /// <summary>Create the ledger tables at first use when the migrator has not (handy for tests and tools).</summary>
    public bool EnsureSchema { get; set; } = true;

    public bool IsPostgres => string.Equals(Provider, "Postgres", StringComparison.OrdinalIgnoreCase)
                           || string.Equals(Provider, "PostgreSQL", StringComparison.OrdinalIgnoreCase)
                           || string.Equals(Provider, "Npgsql", StringComparison.OrdinalIgnoreCase);

    public bool IsSqlite => string.Equals(Provider, "Sqlite", StringComparison.OrdinalIgnoreCase);
}

public static class LedgerServiceCollectionExtensions
{
    /// <summary>
    /// Registers one <see cref="ILedger"/> singleton for the process. SQLite needs exactly one instance per file
    /// in a process (it serialises writes itself); PostgreSQL shares one pooled NpgsqlDataSource.
    /// </summary>
    public static IServiceCollection AddEvChargeLedger(this IServiceCollection services, LedgerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        services.TryAddSingleton(TimeProvider.System);
        if (options.IsPostgres)
        {
            if (string.IsNullOrWhiteSpace(options.ConnectionString))
                throw new ArgumentException("Ledger provider Postgres needs a connection string.", nameof(options));
            services.TryAddSingleton<ILedger>(sp => Init(new PostgresLedger(options.ConnectionString!, sp.GetRequiredService<TimeProvider>()),
                l => l.EnsureSchemaAsync(), options.EnsureSchema));
        }
        else if (options.IsSqlite)
        {
            var path = string.IsNullOrWhiteSpace(options.ConnectionString) ? Path.Combine("data", "evcharge.db") : options.ConnectionString!;
            services.TryAddSingleton<ILedger>(sp => Init(new SqliteLedger(path, sp.GetRequiredService<TimeProvider>()),
                l => l.EnsureSchemaAsync(), options.EnsureSchema));
        }
        else
        {
            throw new ArgumentException($"Unknown ledger provider '{options.Provider}'; use Sqlite or Postgres.", nameof(options));
        }
        return services;
    }

    // Singleton factories are synchronous; the DDL is idempotent and quick, so blocking once at first resolve is fine.
    private static T Init<T>(T ledger, Func<T, Task> ensure, bool run)
    {
        if (run) ensure(ledger).GetAwaiter().GetResult();
        return ledger;
    }
}
