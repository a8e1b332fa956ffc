using EvCharge.Silo.Extensions;
using EvCharge.Silo.Persistence;

// `dotnet run --project silo -- migrate ...` applies the schema and exits (docs/operations.md).
if (await MigrateCommand.TryRunAsync(args) is { } exitCode) return exitCode;

// No reload of appsettings on change: the host would watch its whole content root (the working directory, where the
// embedded default keeps data/evcharge.db) and wake on every write to the database's WAL. Settings apply at start.
// It is a host setting, read from the environment before the builder exists; an operator's own value wins.
if (Environment.GetEnvironmentVariable("DOTNET_hostBuilder__reloadConfigOnChange") is null)
    Environment.SetEnvironmentVariable("DOTNET_hostBuilder__reloadConfigOnChange", "false");
var builder = WebApplication.CreateBuilder(args);
builder.AddEvChargeSilo();

var app = builder.Build();
app.MapEvChargeSilo();
await app.RunAsync();
return 0;
