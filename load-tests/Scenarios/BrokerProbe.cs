using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using EvCharge.LoadTests.Driver;
using MQTTnet;
using MQTTnet.Protocol;
using MQTTnet.Server;

namespace EvCharge.LoadTests.Scenarios;

/// <summary>
/// The machine's raw MQTTnet ceiling: an MQTTnet broker in this process on a free loopback port, no
/// authentication or interception, P publishers (one topic each, QoS 1, a bounded window of unacknowledged
/// publishes) and one wildcard subscriber (as the bridge subscribes). Counts messages that arrive end to end.
/// Broker and clients share the machine's cores, as the silo's embedded broker and the chargers do in a run.
/// </summary>
public static class BrokerProbe
{
    public static async Task<Dictionary<string, double>> RunAsync(Options o, CancellationToken ct)
    {
        var publishers = o.Int("publishers", 50);
        var messages = o.Int("messages", 200_000);
        var payloadBytes = o.Int("payload", 200);
        var window = o.Int("window", 16);
        var qos = o.Int("qos", 1) == 0 ? MqttQualityOfServiceLevel.AtMostOnce : MqttQualityOfServiceLevel.AtLeastOnce;
        var limit = o.Seconds("duration", 60);
        var port = FreePort();

        var factory = new MqttServerFactory();
        using var server = factory.CreateMqttServer(factory.CreateServerOptionsBuilder().WithDefaultEndpoint()
            .WithDefaultEndpointBoundIPAddress(IPAddress.Loopback).WithDefaultEndpointPort(port)
            // As the silo's embedded broker is configured (ChargerBridge:MaxPendingMessagesPerClient): MQTTnet's default
            // of 250 queued messages per subscriber drops the overflow, which would measure drops, not throughput.
            .WithMaxPendingMessagesPerClient(o.Int("max-pending", 100_000)).Build());
        long dropped = 0;
        server.ApplicationMessageEnqueuedOrDroppedAsync += e =>
        {
            if (e.IsDropped) Interlocked.Increment(ref dropped);
            return Task.CompletedTask;
        };
        await server.StartAsync();
        try
        {
            var clientFactory = new MqttClientFactory();
            MqttClientOptions Opts(string id) => new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", port).WithClientId(id)
                .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500).WithKeepAlivePeriod(TimeSpan.Zero).Build();

            using var subscriber = clientFactory.CreateMqttClient();
            long received = 0;
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            subscriber.ApplicationMessageReceivedAsync += _ =>
            {
                if (Interlocked.Increment(ref received) == messages) done.TrySetResult();
                return Task.CompletedTask;
            };
            await subscriber.ConnectAsync(Opts("probe-sub"), ct);
            await subscriber.SubscribeAsync(new MqttClientSubscribeOptionsBuilder().WithTopicFilter("probe/+/up", qos).Build(), ct);

            var clients = new List<IMqttClient>();
            for (var i = 0; i < publishers; i++)
            {
                var c = clientFactory.CreateMqttClient();
                await c.ConnectAsync(Opts($"probe-pub-{i}"), ct);
                clients.Add(c);
            }
            var payload = new byte[payloadBytes];
            Random.Shared.NextBytes(payload);
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
            stop.CancelAfter(limit);
            long sent = 0;
            var sw = Stopwatch.StartNew();
            await Task.WhenAll(clients.Select((c, i) => Task.Run(async () =>
            {
                var topic = $"probe/{i}/up";
                var share = messages / publishers + (i < messages % publishers ? 1 : 0);
                var inflight = new List<Task>(window);
                for (var m = 0; m < share && !stop.IsCancellationRequested; m++)
                {
                    inflight.Add(c.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(payload).WithQualityOfServiceLevel(qos).Build(), stop.Token));
                    Interlocked.Increment(ref sent);
                    if (inflight.Count >= window) { await Task.WhenAll(inflight); inflight.Clear(); }
                }
                await Task.WhenAll(inflight);
            })));
            var publishedSeconds = sw.Elapsed.TotalSeconds;
            try { await done.Task.WaitAsync(TimeSpan.FromSeconds(30), stop.Token); } catch (Exception) { }
            var seconds = sw.Elapsed.TotalSeconds;
            foreach (var c in clients) { await c.DisconnectAsync(); c.Dispose(); }
            await subscriber.DisconnectAsync();
            var result = new Dictionary<string, double>
            {
                ["publishers"] = publishers,
                ["payload-bytes"] = payloadBytes,
                ["qos"] = (int)qos,
                ["messages.sent"] = sent,
                ["messages.received"] = received,
                ["messages.dropped-by-broker"] = Interlocked.Read(ref dropped),
                ["publish.msgs-per-second"] = Math.Round(sent / publishedSeconds),
                ["end-to-end.msgs-per-second"] = Math.Round(received / seconds),
                ["seconds"] = Math.Round(seconds, 2),
            };
            foreach (var (k, v) in result) Console.WriteLine($"broker-probe {k} = {v}");
            return result;
        }
        finally { await server.StopAsync(new MqttServerStopOptionsBuilder().Build()); }
    }

    public static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }
}
