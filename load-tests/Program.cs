using EvCharge.LoadTests.Driver;
using EvCharge.LoadTests.Scenarios;

// EvCharge load driver (issue 7) and charger simulator (issue 3). See docs/performance.md.
//   dotnet run --project load-tests -- simulate --chargers 10 --charges 20
//   dotnet run --project load-tests -- simulate --chargers 10 --charges 20 --transport ws   (OCPP-J over WebSocket)
//   dotnet run --project load-tests -- steady --rate 50 --duration 60 --sut-pid <silo pid> --sqlite data/evcharge.db
//   dotnet run --project load-tests -- broker-probe --publishers 50 --messages 200000
if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
{
    Console.WriteLine("""
        usage: load-tests <scenario> [options]
          scenarios: simulate | connect | steady | bootstorm | mixed | broker-probe | store-bench
          target:    --transport mqtt|ws --mqtt-port 1883 --ws-port 8180 --sandbox http://127.0.0.1:5090 --api http://127.0.0.1:5080 --gateway-port 30000
                     --sut-pid <silo pid>  --provider-pid <stand-alone sandbox pid>
                     --sqlite <ledger db path> | --postgres <connection string>
          common:    --chargers N --ramp R/s --heartbeat S --duration S --max-seconds S (hard stop, default 900)
                     --call-timeout S --prefix ID --quiet --reports DIR --no-ledger
          simulate:  --charges N --charge-seconds S --meter-seconds S
          connect:   --hold S
          steady:    --rate R/s --charge-seconds S --meter-seconds S --energy-wh WH
          bootstorm: --transactions K --outage S --storm-attempts N
          mixed:     --rate R/s --auth-rate R/s --read-rate R/s
          broker-probe: --publishers P --messages M --payload BYTES --window W --qos 0|1
          store-bench: --postgres <cs> | --sqlite <path>  --charges N --concurrency C --meters M --ack-file PATH --no-schema
        """);
    return 0;
}

var scenario = args[0];
var options = new Options(args.Skip(1));
using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; cancel.Cancel(); };

if (scenario == "store-bench")
{
    var bench = await StoreBench.RunAsync(options, cancel.Token);
    return bench.TotalErrors == 0 ? 0 : 1;
}

if (scenario == "broker-probe")
{
    await BrokerProbe.RunAsync(options, cancel.Token);
    return 0;
}

await using var target = await Target.ConnectAsync(options, cancel.Token);
var report = await LoadScenarios.RunAsync(scenario, options, target, cancel.Token);
return report.TotalErrors == 0 && report.Ledger?.Ok != false ? 0 : 1;
