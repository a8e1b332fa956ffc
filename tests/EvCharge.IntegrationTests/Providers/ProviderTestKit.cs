using System.Net.Http.Json;
using System.Text.Json;
using EvCharge.Charging;
using EvCharge.Ledger;
using EvCharge.Payments;
using EvCharge.Payments.Providers;
using EvCharge.SocialSandbox.Providers;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EvCharge.IntegrationTests.Providers;

/// <summary>
/// One adapter as the silo builds it (keyed singleton, its own HttpClient and resilience pipeline, the journal in a
/// real SQLite file) against a provider-shaped server on loopback, plus raw HTTP to the server's test hooks.
/// Retry delays are short; attempt time-outs are short where a test makes the server hang.
/// </summary>
internal sealed class ProviderKit : IAsyncDisposable
{
    private readonly ServiceProvider _services;
    private readonly string _dir;

    private ProviderKit(RunningProviderServer server, ServiceProvider services, string dir, IPaymentGateway gateway, IPaymentOperationJournal journal)
    {
        Server = server;
        _services = services;
        _dir = dir;
        Gateway = gateway;
        Journal = journal;
        Http = new HttpClient { BaseAddress = server.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
    }

    public RunningProviderServer Server { get; }
    public IPaymentGateway Gateway { get; }
    public IPaymentOperationJournal Journal { get; }
    public HttpClient Http { get; }

    public static async Task<ProviderKit> StartAsync(string kind, Action<ProviderGatewayOptions>? configure = null, TimeSpan? faultHang = null)
    {
        var serverOptions = new ProviderServerOptions { FaultHang = faultHang ?? TimeSpan.FromSeconds(5) };
        var server = await ProviderServerHost.StartAsync(kind, serverOptions);
        var dir = Directory.CreateTempSubdirectory("evc-providers-").FullName;
        var options = new ProviderGatewayOptions
        {
            Kind = kind, BaseUrl = server.BaseAddress, SecretKey = serverOptions.SecretKey, WebhookSecret = serverOptions.WebhookSecret,
            AttemptTimeout = TimeSpan.FromSeconds(2), TotalTimeout = TimeSpan.FromSeconds(10), MaxRetryAttempts = 1,
            RetryBaseDelay = TimeSpan.FromMilliseconds(5), MaxRetryDelay = TimeSpan.FromMilliseconds(20),
        };
        configure?.Invoke(options);
        var services = new ServiceCollection()
            .AddLogging(b => b.SetMinimumLevel(LogLevel.Warning))
            .AddSingleton(TimeProvider.System);
        var ledger = new LedgerOptions { Provider = "Sqlite", ConnectionString = Path.Combine(dir, "journal.db") };
        var journal = SqlPaymentOperationJournal.Create(ledger);
        await journal.EnsureSchemaAsync();
        services.AddSingleton<IPaymentOperationJournal>(journal);
        services.AddProviderGateway(kind, options);
        var sp = services.BuildServiceProvider();
        return new ProviderKit(server, sp, dir, sp.GetRequiredKeyedService<IPaymentGateway>(kind), journal);
    }

    public async Task<JsonElement> TestHookAsync(string path, object body)
    {
        using var response = await Http.PostAsJsonAsync(path, body);
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    public Task FaultAsync(string operation, string fault, int count = 1)
    {
        Server.Faults.Enqueue(operation, fault, count);
        return Task.CompletedTask;
    }

    public static CaptureRequest Capture(string authorizationId, long amount, long cpoPart, string cpoPayee = "cpo-1", string session = "sess-1")
    {
        var start = new DateTimeOffset(2026, 1, 1, 10, 0, 0, TimeSpan.Zero);
        return new CaptureRequest(authorizationId, amount,
            [new SplitPart(cpoPayee, PayeeRole.Cpo, cpoPart), new SplitPart("platform-operator", PayeeRole.Platform, amount - cpoPart)],
            new ReceiptDetails("CP-1", 1, session, 12_345, start, start.AddHours(1), amount, amount - Domain.Vat.Of(amount), Domain.Vat.Of(amount)));
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await _services.DisposeAsync();
        await Server.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
