using System.Net;
using System.Net.Sockets;

namespace EvCharge.IntegrationTests.Infrastructure;

/// <summary>
/// Free loopback ports for the servers the tests start (silos, brokers, PostgreSQL, hosts), below Linux's ephemeral
/// range (32768-60999). A port the kernel hands out for port 0 is an ephemeral one: between the probe and the server's
/// bind, or while a killed silo restarts on its old ports, another test's outgoing connection can take it as its
/// source port ("address already in use"). Ports here are never handed out twice in one test run.
/// </summary>
public static class LoopbackPorts
{
    private static readonly HashSet<int> Given = [];

    public static int Next()
    {
        for (var i = 0; i < 1_000; i++)
        {
            var port = Random.Shared.Next(20_000, 32_000);
            lock (Given)
            {
                if (!Given.Add(port)) continue;
            }
            try
            {
                using var listener = new TcpListener(IPAddress.Loopback, port);
                listener.Start();
                return port;
            }
            catch (SocketException) { } // taken by something outside the tests: try another
        }
        throw new InvalidOperationException("no free loopback port found in 20000-31999");
    }
}
