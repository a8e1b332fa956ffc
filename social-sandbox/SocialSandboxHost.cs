using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace EvCharge.SocialSandbox;

/// <summary>Everything one sandbox instance shares between its routes.</summary>
public sealed class SandboxRuntime : IDisposable
{
    public SandboxRuntime(SandboxOptions options)
    {
        Options = options;
        Hub = new ReceiptHub();
        Store = new SandboxStore(options, Hub);
        Idempotency = new IdempotencyGuard(Store);
    }

    public SandboxOptions Options { get; }
    public SandboxStore Store { get; }
    public ReceiptHub Hub { get; }
    public FaultInjector Faults { get; } = new();
    internal IdempotencyGuard Idempotency { get; }

    public void Dispose() => Store.Dispose();
}

public static class SandboxServiceCollectionExtensions
{
    /// <summary>Registers the sandbox's state; pair with <see cref="SandboxApi.MapSocialSandbox"/>.</summary>
    public static IServiceCollection AddSocialSandbox(this IServiceCollection services, SandboxOptions options)
    {
        services.AddSingleton(options);
        services.AddSingleton(sp => new SandboxRuntime(sp.GetRequiredService<SandboxOptions>()));
        return services;
    }

    public static IServiceCollection AddSocialSandbox(this IServiceCollection services, Action<SandboxOptions>? configure = null)
    {
        var options = new SandboxOptions();
        configure?.Invoke(options);
        return services.AddSocialSandbox(options);
    }
}

/// <summary>
/// Starts a sandbox on its own Kestrel listener inside the calling process: the silo's embedded default, tests
/// (port 0 picks a free port), load tests.
/// </summary>
public static class SocialSandboxHost
{
    public const string DefaultUrl = "http://127.0.0.1:5090";

    public static async Task<RunningSandbox> StartAsync(
        SandboxOptions options, string url = "http://127.0.0.1:0", CancellationToken cancellationToken = default)
    {
        // An empty builder on purpose: embedded in the silo, the sandbox must not pick up the host process's
        // appsettings.json or ASPNETCORE_* settings (Kestrel endpoints, URLs) and collide with the silo's own.
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions
        {
            ApplicationName = typeof(SocialSandboxHost).Assembly.GetName().Name,
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.WebHost.UseKestrelCore().UseUrls(url);
        builder.Services.AddRouting();
        builder.Services.AddSocialSandbox(options);
        var app = builder.Build();
        app.MapSocialSandbox();
        await app.StartAsync(cancellationToken);

        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new RunningSandbox(app, new Uri(address.Replace("[::]", "127.0.0.1").Replace("0.0.0.0", "127.0.0.1")),
            app.Services.GetRequiredService<SandboxRuntime>());
    }
}

/// <summary>A started sandbox. Dispose to stop it (and close its journal).</summary>
public sealed class RunningSandbox : IAsyncDisposable
{
    private readonly WebApplication _app;

    internal RunningSandbox(WebApplication app, Uri baseAddress, SandboxRuntime runtime)
    {
        _app = app;
        BaseAddress = baseAddress;
        Runtime = runtime;
    }

    /// <summary>Where the sandbox listens, with the real port when it was started on port 0.</summary>
    public Uri BaseAddress { get; }
    public SandboxRuntime Runtime { get; }
    public SandboxStore Store => Runtime.Store;
    public FaultInjector Faults => Runtime.Faults;
    public ReceiptHub Receipts => Runtime.Hub;

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync(TimeSpan.FromSeconds(5));
        await _app.DisposeAsync();
    }
}
