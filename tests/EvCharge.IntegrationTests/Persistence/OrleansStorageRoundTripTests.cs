using System.Net;
using System.Net.Sockets;
using EvCharge.IntegrationTests.Infrastructure;
using EvCharge.Silo.Extensions;
using EvCharge.Silo.Persistence;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;

namespace EvCharge.IntegrationTests.Persistence;

public interface IPersistenceProbeGrain : IGrainWithStringKey
{
    Task Write(string value);
    Task<string?> Read();
    Task<int> Ticks();
    Task StartTicking(TimeSpan period);
}

[GenerateSerializer]
public sealed record PersistenceProbeState
{
    [Id(0)] public string? Value { get; init; }
    [Id(1)] public int Ticks { get; init; }
}

/// <summary>A grain that keeps a value and counts reminder ticks in ADO.NET grain storage "evcharge".</summary>
public sealed class PersistenceProbeGrain(
    [PersistentState("probe", PersistenceExtensions.GrainStorageName)] IPersistentState<PersistenceProbeState> state)
    : Grain, IPersistenceProbeGrain, IRemindable
{
    public async Task Write(string value)
    {
        state.State = state.State with { Value = value };
        await state.WriteStateAsync();
    }

    public Task<string?> Read() => Task.FromResult(state.State.Value);
    public Task<int> Ticks() => Task.FromResult(state.State.Ticks);

    public Task StartTicking(TimeSpan period) => this.RegisterOrUpdateReminder("probe-tick", TimeSpan.FromSeconds(1), period);

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        state.State = state.State with { Ticks = state.State.Ticks + 1 };
        await state.WriteStateAsync();
    }
}

/// <summary>
/// A real silo on each database: state written, silo stopped, a new silo started on the same database reads it
/// back; a reminder registered on the first silo keeps firing on the second.
/// </summary>
public abstract class OrleansStorageRoundTrip
{
    protected abstract Task<StorageProfile> ProfileAsync();

    private static int FreePort() => EvCharge.IntegrationTests.Infrastructure.LoopbackPorts.Next();

    private static async Task<IHost> StartSiloAsync(StorageProfile profile)
    {
        var siloPort = FreePort();
        var gatewayPort = FreePort();
        profile = profile with { SiloPort = siloPort, GatewayPort = gatewayPort };
        var host = new HostBuilder()
            .ConfigureLogging(l => l.SetMinimumLevel(LogLevel.Warning))
            .UseOrleans(silo =>
            {
                silo.UseEvChargeStorage(profile);
                if (profile.Provider == StorageProvider.Postgres)
                    silo.ConfigureEndpoints(IPAddress.Loopback, siloPort, gatewayPort);
                // Reminders normally tick at most once a minute; a test should not wait that long.
                silo.Configure<ReminderOptions>(o =>
                {
                    o.MinimumReminderPeriod = TimeSpan.FromSeconds(1);
                    o.RefreshReminderListPeriod = TimeSpan.FromSeconds(1);
                    o.InitializationTimeout = TimeSpan.FromSeconds(30);
                });
            })
            .Build();
        await host.StartAsync();
        return host;
    }

    private static async Task<int> WaitForTicksAsync(IPersistenceProbeGrain grain, int moreThan)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            var ticks = await grain.Ticks();
            if (ticks > moreThan) return ticks;
            await Task.Delay(250);
        }
        throw new TimeoutException($"the reminder did not tick past {moreThan} within 60 s");
    }

    [Fact]
    public async Task Grain_state_and_reminders_survive_a_silo_restart()
    {
        var profile = await ProfileAsync();
        var key = "probe-" + Guid.NewGuid().ToString("N")[..8];
        int ticksBefore;

        var first = await StartSiloAsync(profile);
        try
        {
            var grain = first.Services.GetRequiredService<IGrainFactory>().GetGrain<IPersistenceProbeGrain>(key);
            await grain.Write("charged 12,345 KRW");
            await grain.Write("charged 12,346 KRW"); // second write goes through the version-checked UPDATE
            await grain.StartTicking(TimeSpan.FromSeconds(1));
            ticksBefore = await WaitForTicksAsync(grain, 0);
        }
        finally
        {
            await first.StopAsync();
            first.Dispose();
        }

        var second = await StartSiloAsync(profile);
        try
        {
            var grain = second.Services.GetRequiredService<IGrainFactory>().GetGrain<IPersistenceProbeGrain>(key);
            Assert.Equal("charged 12,346 KRW", await grain.Read());
            Assert.True(await grain.Ticks() >= ticksBefore);
            // The reminder row outlived the first silo: the second one fires it without being asked again.
            await WaitForTicksAsync(grain, await grain.Ticks());
        }
        finally
        {
            await second.StopAsync();
            second.Dispose();
        }
    }
}

public sealed class SqliteOrleansStorageTests : OrleansStorageRoundTrip, IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "evcharge-silo-" + Guid.NewGuid().ToString("N")[..8]);

    protected override Task<StorageProfile> ProfileAsync() =>
        Task.FromResult(StorageProfile.Sqlite(Path.Combine(_dir, "evcharge.db")) with { ServiceId = "probe", ClusterId = "probe" });

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        try { Directory.Delete(_dir, true); } catch { }
    }
}

[Collection("postgres")]
public sealed class PostgresOrleansStorageTests(PostgresServer server) : OrleansStorageRoundTrip
{
    protected override async Task<StorageProfile> ProfileAsync() =>
        StorageProfile.Postgres(await server.CreateDatabaseAsync("orleans")) with { ServiceId = "probe", ClusterId = "probe" };
}
