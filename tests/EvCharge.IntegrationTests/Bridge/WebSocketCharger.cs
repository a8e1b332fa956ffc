using System.Net;
using System.Net.WebSockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace EvCharge.IntegrationTests.Bridge;

/// <summary>
/// A charger on a real OCPP-J WebSocket (.NET's ClientWebSocket): subprotocol ocpp1.6, HTTP Basic with its secret
/// (profiles 1 and 2), or a client certificate (profile 3), over ws:// or wss:// trusting the test CA.
/// </summary>
public sealed class WebSocketCharger : TestCharger
{
    private readonly ClientWebSocket _socket;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _reader;
    private readonly SemaphoreSlim _sendGate = new(1, 1);

    private WebSocketCharger(ClientWebSocket socket, string chargerId) : base(chargerId)
    {
        _socket = socket;
        _reader = Task.Run(ReadLoopAsync);
    }

    public override bool IsConnected => _socket.State == WebSocketState.Open;

    /// <summary>How the server closed the connection (null while open or when it was dropped without a close frame).</summary>
    public WebSocketCloseStatus? CloseStatus => _socket.CloseStatus;
    public string? CloseDescription => _socket.CloseStatusDescription;

    /// <summary>Completes when the server closed or dropped the connection.</summary>
    public Task Closed => _reader;

    public sealed record Login(string? Password = null, X509Certificate2? ClientCertificate = null, X509Certificate2? TrustedCa = null,
        string[]? Subprotocols = null);

    public static ClientWebSocket CreateSocket(string chargerId, Login login)
    {
        var socket = new ClientWebSocket();
        foreach (var p in login.Subprotocols ?? ["ocpp1.6"]) socket.Options.AddSubProtocol(p);
        if (login.Password is not null)
            socket.Options.SetRequestHeader("Authorization", "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"{chargerId}:{login.Password}")));
        if (login.ClientCertificate is not null) socket.Options.ClientCertificates = [login.ClientCertificate];
        if (login.TrustedCa is { } ca)
            socket.Options.RemoteCertificateValidationCallback = (_, certificate, _, _) => TrustedBy(ca, certificate);
        socket.Options.CollectHttpResponseDetails = true;
        socket.Options.KeepAliveInterval = TimeSpan.Zero;
        return socket;
    }

    /// <summary>Connects and returns the charger, or throws with the HTTP status the server refused the upgrade with.</summary>
    public static async Task<WebSocketCharger> ConnectAsync(Uri endpoint, string chargerId, Login login)
    {
        var socket = CreateSocket(chargerId, login);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        try
        {
            await socket.ConnectAsync(new Uri(endpoint, chargerId), timeout.Token);
        }
        catch (WebSocketException e)
        {
            var status = socket.HttpStatusCode;
            socket.Dispose();
            throw new RefusedException(status, e);
        }
        Assert.Equal("ocpp1.6", socket.SubProtocol);
        return new WebSocketCharger(socket, chargerId);
    }

    /// <summary>The status the server answered a refused upgrade with (401, 400, 429, ...).</summary>
    public static async Task<HttpStatusCode> RefusalAsync(Uri endpoint, string chargerId, Login login)
    {
        try
        {
            await using var charger = await ConnectAsync(endpoint, chargerId, login);
        }
        catch (RefusedException e)
        {
            return e.Status;
        }
        return HttpStatusCode.SwitchingProtocols;
    }

    public sealed class RefusedException(HttpStatusCode status, Exception inner) : Exception($"upgrade refused: {(int)status}", inner)
    {
        public HttpStatusCode Status { get; } = status;
    }

    private static bool TrustedBy(X509Certificate2 ca, X509Certificate? presented)
    {
        if (presented is null) return false;
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(new X509Certificate2(presented));
    }

    public override async Task SendAsync(string text)
    {
        await _sendGate.WaitAsync();
        try
        {
            await _socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None);
        }
        finally { _sendGate.Release(); }
    }

    /// <summary>Sends a message in pieces (several WebSocket frames), as a charger with a small buffer might.</summary>
    public async Task SendFragmentedAsync(byte[] message, int pieceBytes)
    {
        await _sendGate.WaitAsync();
        try
        {
            for (var offset = 0; offset < message.Length; offset += pieceBytes)
            {
                var length = Math.Min(pieceBytes, message.Length - offset);
                await _socket.SendAsync(message.AsMemory(offset, length), WebSocketMessageType.Text, offset + length == message.Length, CancellationToken.None);
            }
        }
        finally { _sendGate.Release(); }
    }

    private async Task ReadLoopAsync()
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (_socket.State == WebSocketState.Open)
            {
                var count = 0;
                ValueWebSocketReceiveResult result;
                do
                {
                    result = await _socket.ReceiveAsync(buffer.AsMemory(count), _stop.Token);
                    count += result.Count;
                } while (!result.EndOfMessage && result.MessageType != WebSocketMessageType.Close);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    // The server closed: complete the closing handshake as a charger does.
                    using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                    await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", timeout.Token);
                    return;
                }
                OnFrame(buffer.AsSpan(0, count));
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException) { }
    }

    /// <summary>Closes from the charger's side (a charger going away or switching transport).</summary>
    public async Task CloseAsync()
    {
        if (_socket.State == WebSocketState.Open)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            try { await _socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", timeout.Token); }
            catch (Exception e) when (e is WebSocketException or OperationCanceledException) { }
        }
        await _reader.WaitAsync(TimeSpan.FromSeconds(10)).ContinueWith(_ => { });
    }

    public override async ValueTask DisposeAsync()
    {
        await CloseAsync();
        _stop.Cancel();
        _socket.Dispose();
        _stop.Dispose();
    }
}
