using EvCharge.Silo.Extensions;
using EvCharge.Silo.Persistence;

// `dotnet run --project silo -- migrate ...` applies the schema and exits (docs/operations.md).
if (await MigrateCommand.TryRunAsync(args) is { } exitCode) return exitCode;

var builder = WebApplication.CreateBuilder(args);
builder.AddEvChargeSilo();

var app = builder.Build();
app.MapEvChargeSilo();
await app.RunAsync();
return 0;
