using System.Security.Cryptography;
using EvCharge.ChargerBridge.Mqtt;
using EvCharge.ChargerBridge.Ocpp;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace EvCharge.ChargerBridge.Extensions;

public static class ChargerBridgeExtensions
{
    /// <summary>
    /// Adds the OCPP dispatcher, the MQTT bridge and, in <see cref="BrokerMode.Embedded"/>, the embedded broker.
    /// Needs an <see cref="IGrainFactory"/> in the container: the silo's own (inside the silo) or an Orleans
    /// client's (stand-alone bridge). <paramref name="section"/> is the "ChargerBridge" configuration section.
    /// </summary>
    public static IServiceCollection AddChargerBridge(this IServiceCollection services, IConfiguration section,
        Action<ChargerBridgeOptions>? configure = null)
    {
        services.AddOptions<ChargerBridgeOptions>().Bind(section);
        return services.AddChargerBridge(configure);
    }

    /// <summary>Adds the bridge configured in code only (tests, hosts without configuration).</summary>
    public static IServiceCollection AddChargerBridge(this IServiceCollection services, Action<ChargerBridgeOptions>? configure)
    {
        var builder = services.AddOptions<ChargerBridgeOptions>();
        if (configure is not null) builder.Configure(configure);
        builder.PostConfigure(o =>
        {
            // Inside one process the broker and the bridge share this options instance, so a random secret
            // nobody has to configure is enough to keep other clients from posing as the bridge.
            if (o.Broker == BrokerMode.Embedded && string.IsNullOrEmpty(o.BridgePassword))
                o.BridgePassword = Convert.ToBase64String(RandomNumberGenerator.GetBytes(24));
        });
        builder.Validate(o => o.Port is > 0 and < 65536, "ChargerBridge:Port must be a TCP port")
            .Validate(o => o.MaxConcurrency > 0, "ChargerBridge:MaxConcurrency must be positive")
            .Validate(o => !string.IsNullOrEmpty(o.BridgeUsername), "ChargerBridge:BridgeUsername is required")
            .Validate(o => o.Broker != BrokerMode.External || !string.IsNullOrEmpty(o.BridgePassword),
                "ChargerBridge:BridgePassword is required for an external broker");

        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<OcppPendingCalls>();
        services.TryAddSingleton<OcppDispatcher>();
        services.TryAddSingleton<EmbeddedBroker>();
        services.TryAddSingleton<MqttChargerBridge>();
        services.AddHostedService<ChargerBridgeHost>();
        return services;
    }
}

/// <summary>Starts the embedded broker (if configured) before the bridge, and stops them in reverse order.</summary>
internal sealed class ChargerBridgeHost(
    Microsoft.Extensions.Options.IOptions<ChargerBridgeOptions> options,
    IServiceProvider services) : IHostedService
{
    private EmbeddedBroker? _broker;
    private MqttChargerBridge? _bridge;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (!options.Value.Enabled) return;
        _bridge = services.GetRequiredService<MqttChargerBridge>();
        if (options.Value.Broker == BrokerMode.Embedded)
        {
            _broker = services.GetRequiredService<EmbeddedBroker>();
            if (options.Value.InProcessBridge)
            {
                _broker.AttachUplink(_bridge);
                _bridge.UseInProcessBroker(_broker);
            }
            await _broker.StartAsync(cancellationToken);
        }
        await _bridge.StartAsync(cancellationToken);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_bridge is not null) await _bridge.StopAsync(cancellationToken);
        if (_broker is not null) await _broker.StopAsync(cancellationToken);
    }
}
