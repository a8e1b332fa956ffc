using EvCharge.ChargerBridge.Extensions;
using EvCharge.ChargerBridge.WebSockets;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

// Stand-alone charger bridge: an Orleans client of the cluster plus the MQTT bridge and the OCPP-J WebSocket endpoint,
// so bridges scale apart from silos. It talks to an external broker unless ChargerBridge:Broker says otherwise.
// No reload of appsettings on change: the host would watch its whole working directory for writes.
if (Environment.GetEnvironmentVariable("DOTNET_hostBuilder__reloadConfigOnChange") is null)
    Environment.SetEnvironmentVariable("DOTNET_hostBuilder__reloadConfigOnChange", "false");
var builder = Host.CreateApplicationBuilder(args);
builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
{
    [$"{ChargerBridgeOptions.SectionName}:{nameof(ChargerBridgeOptions.Broker)}"] = nameof(BrokerMode.External),
});
builder.Configuration.AddJsonFile("appsettings.json", optional: true).AddEnvironmentVariables().AddCommandLine(args);

// Not "Orleans": Orleans reads that section for provider settings and fails on unknown providers. The ids default
// to the silo's (Storage:ClusterId/ServiceId = "evcharge") so a default bridge finds a default cluster.
var orleans = builder.Configuration.GetSection("Cluster");
var clusterId = orleans["ClusterId"] ?? "evcharge";
var serviceId = orleans["ServiceId"] ?? "evcharge";

builder.UseOrleansClient(client =>
{
    // A charger's request is one grain call; the silo's EvCharge:AuthorizeBudget is set to end inside this timeout.
    client.Configure<Orleans.Configuration.ClientMessagingOptions>(o => o.ResponseTimeout = TimeSpan.FromSeconds(30));
    client.Configure<Orleans.Configuration.ClientMessagingOptions>(orleans.GetSection("Messaging"));
    if (string.Equals(orleans["Clustering"], "Postgres", StringComparison.OrdinalIgnoreCase))
    {
        var connectionString = orleans["ConnectionString"] ?? builder.Configuration.GetConnectionString("Postgres")
            ?? throw new InvalidOperationException("Cluster:Clustering=Postgres needs Cluster:ConnectionString or ConnectionStrings:Postgres");
        client.Configure<Orleans.Configuration.ClusterOptions>(o =>
        {
            o.ClusterId = clusterId;
            o.ServiceId = serviceId;
        });
        client.UseAdoNetClustering(o =>
        {
            o.Invariant = "Npgsql";
            o.ConnectionString = connectionString;
        });
    }
    else
    {
        client.UseLocalhostClustering(int.TryParse(orleans["GatewayPort"], out var port) ? port : 30000, serviceId, clusterId);
    }
});

builder.Services.AddChargerBridge(builder.Configuration.GetSection(ChargerBridgeOptions.SectionName));
builder.Services.AddOcppWebSockets(builder.Configuration.GetSection(OcppWebSocketOptions.SectionName));

await builder.Build().RunAsync();
