using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Net.Http.Headers;
using EvCharge.ChargerBridge.Mqtt;

namespace EvCharge.ChargerBridge.WebSockets;

/// <summary>
/// The OCPP-J handshake on <c>/ocpp/{chargerId}</c>: a WebSocket upgrade offering the <c>ocpp1.6</c> subprotocol,
/// then the charger's login under its security profile, then the connection. Everything refused is refused before
/// the upgrade, with an HTTP status: 404 not a charger URL, 426 not a WebSocket upgrade, 400 no subprotocol we speak,
/// 401 login refused, 429 too many failed logins, 503 the login cannot be checked now.
/// </summary>
public static class OcppWebSocketEndpoint
{
    public static async Task HandleAsync(HttpContext context)
    {
        var hub = context.RequestServices.GetRequiredService<WebSocketHub>();
        if (!TryGetChargerId(context.Request.Path, out var chargerId))
        {
            await Plain(context, StatusCodes.Status404NotFound, $"Chargers connect to {OcppWebSocketOptions.PathPrefix}/{{chargerId}}.");
            return;
        }
        if (!context.WebSockets.IsWebSocketRequest)
        {
            context.Response.Headers[HeaderNames.Upgrade] = "websocket";
            await Plain(context, StatusCodes.Status426UpgradeRequired, "OCPP-J needs a WebSocket upgrade.");
            return;
        }
        var offered = context.WebSockets.WebSocketRequestedProtocols;
        if (!offered.Contains(OcppWebSocketOptions.Subprotocol, StringComparer.Ordinal))
        {
            hub.Logger.LogInformation("Charger {ChargerId} from {Address} offered subprotocols [{Offered}]; refused: only {Subprotocol} is spoken",
                chargerId, context.Connection.RemoteIpAddress, string.Join(", ", offered), OcppWebSocketOptions.Subprotocol);
            await Plain(context, StatusCodes.Status400BadRequest,
                $"Sec-WebSocket-Protocol must offer {OcppWebSocketOptions.Subprotocol}; offered: {(offered.Count == 0 ? "none" : string.Join(", ", offered))}.");
            return;
        }

        var login = await hub.Login.LoginAsync(context, chargerId);
        if (!login.Accepted)
        {
            if (login.StatusCode == StatusCodes.Status401Unauthorized)
                context.Response.Headers[HeaderNames.WWWAuthenticate] = $"Basic realm=\"{ChargerLogin.Realm}\", charset=\"UTF-8\"";
            if (login.RetryAfter is { } until)
                context.Response.Headers[HeaderNames.RetryAfter] = Math.Max(1, (int)Math.Ceiling((until - hub.Time.GetUtcNow()).TotalSeconds)).ToString();
            await Plain(context, login.StatusCode, login.StatusCode == StatusCodes.Status401Unauthorized ? "Login refused." : login.Reason + ".");
            return;
        }

        var o = hub.Options;
        using var socket = await context.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext
        {
            SubProtocol = OcppWebSocketOptions.Subprotocol,
            KeepAliveInterval = o.PingIntervalSeconds > 0 ? TimeSpan.FromSeconds(o.PingIntervalSeconds) : TimeSpan.Zero,
            KeepAliveTimeout = o.PingIntervalSeconds > 0 && o.PingTimeoutSeconds > 0 ? TimeSpan.FromSeconds(o.PingTimeoutSeconds) : Timeout.InfiniteTimeSpan,
        });
        var address = context.Connection.RemoteIpAddress?.ToString() ?? "unknown";
        hub.Logger.LogInformation("Charger {ChargerId} connected over WebSocket from {Address}, security profile {Profile}",
            chargerId, address, (int)login.Profile!.Value);
        // Each OCPP CALL starts its own trace (as over MQTT), not a child of an HTTP request that lasts for hours.
        System.Diagnostics.Activity.Current = null;
        await new OcppWebSocketConnection(chargerId, address, login.Profile.Value, socket, hub).RunAsync();
    }

    /// <summary><c>/ocpp/{chargerId}</c> with a valid charger id (the same rule as MQTT usernames) and nothing after it.</summary>
    public static bool TryGetChargerId(PathString path, out string chargerId)
    {
        chargerId = "";
        if (!path.StartsWithSegments(OcppWebSocketOptions.PathPrefix, StringComparison.Ordinal, out var rest) || !rest.HasValue) return false;
        var id = rest.Value!.AsSpan(1).TrimEnd('/');
        if (!ChargerTopics.IsValidChargerId(id)) return false;
        chargerId = id.ToString();
        return true;
    }

    private static Task Plain(HttpContext context, int status, string text)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "text/plain; charset=utf-8";
        return context.Response.WriteAsync(text + "\n");
    }
}
