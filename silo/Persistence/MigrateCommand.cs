using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace EvCharge.Silo.Persistence;

/// <summary>
/// <c>dotnet run --project silo -- migrate [--provider Postgres|Sqlite] [--connection "..."] [--print]</c>
/// Applies the schema and exits, for operators who migrate before rolling out silos (or who do not let
/// silos change schema). Without options it uses the same configuration the silo would (section
/// <c>Storage</c>: <c>Provider</c>, <c>ConnectionString</c>; environment <c>Storage__Provider</c> etc.).
/// <c>--print</c> writes the SQL to stdout instead of running it, for applying by hand.
/// </summary>
public static class MigrateCommand
{
    public static async Task<int?> TryRunAsync(string[] args)
    {
        if (args.Length == 0 || !string.Equals(args[0], "migrate", StringComparison.OrdinalIgnoreCase)) return null;

        string? provider = null, connection = null;
        var print = false;
        for (var i = 1; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--provider" when i + 1 < args.Length: provider = args[++i]; break;
                case "--connection" when i + 1 < args.Length: connection = args[++i]; break;
                case "--print": print = true; break;
                case "-h" or "--help":
                    Console.WriteLine("usage: migrate [--provider Postgres|Sqlite] [--connection \"<connection string or SQLite path>\"] [--print]");
                    return 0;
                default:
                    await Console.Error.WriteLineAsync($"migrate: unknown argument '{args[i]}' (try --help)");
                    return 2;
            }
        }

        var config = new ConfigurationBuilder()
            .SetBasePath(AppContext.BaseDirectory)
            .AddJsonFile("appsettings.json", optional: true)
            .AddJsonFile($"appsettings.{Environment.GetEnvironmentVariable("DOTNET_ENVIRONMENT") ?? Environment.GetEnvironmentVariable("ASPNETCORE_ENVIRONMENT") ?? "Production"}.json", optional: true)
            .AddEnvironmentVariables()
            .Build();
        var profile = StorageProfile.FromConfiguration(config);
        if (provider is not null) profile = profile with { Provider = StorageProfile.ParseProvider(provider) };
        if (connection is not null) profile = profile with { ConnectionString = connection };

        try
        {
            if (print)
            {
                Console.Write(SchemaMigrator.PrintableScript(profile.Provider.ToString()));
                return 0;
            }
            using var loggerFactory = LoggerFactory.Create(b => b.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Information));
            var logger = loggerFactory.CreateLogger("EvCharge.Migrate");
            await SchemaMigrator.MigrateAsync(profile.Provider.ToString(), profile.EffectiveConnectionString, logger, CancellationToken.None);
            return 0;
        }
        catch (Exception ex)
        {
            await Console.Error.WriteLineAsync($"migrate failed: {ex.Message}");
            return 1;
        }
    }
}
