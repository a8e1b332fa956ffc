using EvCharge.ChargerBridge.Ocpp;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace EvCharge.ChargerBridge.WebSockets;

public static class OcppWebSocketExtensions
{
    /// <summary>
    /// Adds the OCPP-J WebSocket endpoint beside the MQTT bridge: same <see cref="OcppDispatcher"/>, same pending
    /// server calls, same grains. <paramref name="section"/> is "ChargerBridge:WebSocket". Needs an
    /// <see cref="IGrainFactory"/> (the silo's or an Orleans client's), like <c>AddChargerBridge</c>.
    /// </summary>
    public static IServiceCollection AddOcppWebSockets(this IServiceCollection services, IConfiguration section,
        Action<OcppWebSocketOptions>? configure = null)
    {
        services.AddOptions<OcppWebSocketOptions>().Bind(section);
        return services.AddOcppWebSockets(configure);
    }

    /// <summary>Adds the endpoint configured in code only (tests).</summary>
    public static IServiceCollection AddOcppWebSockets(this IServiceCollection services, Action<OcppWebSocketOptions>? configure)
    {
        var builder = services.AddOptions<OcppWebSocketOptions>();
        if (configure is not null) builder.Configure(configure);
        builder.Validate(o => o.Port is >= 0 and < 65536 && o.TlsPort is >= 0 and < 65536, "ChargerBridge:WebSocket:Port and TlsPort must be TCP ports (0: off)")
            .Validate(o => o.MaxMessageBytes >= 1024, "ChargerBridge:WebSocket:MaxMessageBytes must be at least 1024")
            .Validate(o => o.SendQueueFrames > 0 && o.ReceiveQueueFrames > 0, "ChargerBridge:WebSocket queue sizes must be positive")
            .Validate(o => string.IsNullOrWhiteSpace(o.CertificatePath) || File.Exists(o.CertificatePath),
                "ChargerBridge:WebSocket:CertificatePath does not exist")
            .Validate(o => string.IsNullOrWhiteSpace(o.ChargerCaPath) || File.Exists(o.ChargerCaPath),
                "ChargerBridge:WebSocket:ChargerCaPath does not exist")
            .ValidateOnStart();

        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<OcppPendingCalls>();
        services.TryAddSingleton<OcppDispatcher>();
        services.TryAddSingleton<ChargerLogin>();
        services.TryAddSingleton<WebSocketHub>();
        services.TryAddSingleton<OcppWebSocketServer>();
        services.AddHostedService(sp => sp.GetRequiredService<OcppWebSocketServer>());
        return services;
    }
}
