using CsCheck;
using EvCharge.Charging;
using EvCharge.Sessions;
using EvCharge.Silo.Apis;
using EvCharge.Silo.OperatorConsole;
using EvCharge.Silo.Security;

namespace EvCharge.UnitTests.OperatorConsole;

/// <summary>The console's pure parts: fleet status, chart buckets, SVG, CSV, the meter plot, the first-run key file.</summary>
public class ConsoleLogicTests
{
    private static readonly TimeSpan Kst = TimeSpan.FromHours(9);

    private static ConnectorResponse Connector(int id, ConnectorStatus status, int? tx = null) => new(id, status, tx is null ? null : "S" + tx, tx, null);

    [Fact]
    public void Fleet_status_puts_offline_before_a_fault_and_a_fault_before_charging()
    {
        Assert.Equal(FleetStatus.Offline, FleetCharger.Classify(false, [Connector(1, ConnectorStatus.Faulted), Connector(2, ConnectorStatus.Charging, 7)]));
        Assert.Equal(FleetStatus.Faulted, FleetCharger.Classify(true, [Connector(1, ConnectorStatus.Faulted), Connector(2, ConnectorStatus.Charging, 7)]));
        Assert.Equal(FleetStatus.Charging, FleetCharger.Classify(true, [Connector(1, ConnectorStatus.Available), Connector(2, ConnectorStatus.SuspendedEV)]));
        Assert.Equal(FleetStatus.Charging, FleetCharger.Classify(true, [Connector(1, ConnectorStatus.Preparing, 3)])); // a transaction is running
        Assert.Equal(FleetStatus.Available, FleetCharger.Classify(true, [Connector(1, ConnectorStatus.Available), Connector(2, ConnectorStatus.Finishing)]));

        FleetCharger C(string id, bool online, FleetStatus s) => new(id, "cpo", s, online, null, [], null, null, null);
        var counts = FleetCounts.Of([C("a", true, FleetStatus.Charging), C("b", true, FleetStatus.Faulted), C("c", false, FleetStatus.Offline), C("d", true, FleetStatus.Available)]);
        Assert.Equal(new FleetCounts(4, 3, 1, 1, 1), counts);
    }

    [Fact]
    public void Charts_lay_the_stores_buckets_on_24_korean_hours_and_14_days_with_empty_ones_as_zero()
    {
        var now = new DateTimeOffset(2026, 11, 29, 1, 30, 0, TimeSpan.Zero); // 10:30 KST
        var data = ChargeCharts.Build(
            [new SessionActivity(new DateTimeOffset(2026, 11, 29, 10, 0, 0, Kst), 1, 5_000, 1_000),
             new SessionActivity(new DateTimeOffset(2026, 11, 29, 7, 0, 0, Kst), 1, 2_000, 600),
             new SessionActivity(new DateTimeOffset(2026, 11, 28, 10, 0, 0, Kst), 1, 1_000, 300)], // 24 hours ago: out of the window
            [new SessionActivity(new DateTimeOffset(2026, 11, 29, 0, 0, 0, Kst), 2, 7_000, 1_600),
             new SessionActivity(new DateTimeOffset(2026, 11, 28, 0, 0, 0, Kst), 1, 1_000, 300)],
            now);

        Assert.Equal(24, data.ChargesPerHour.Count);
        Assert.Equal(ChargeCharts.Days, data.EnergyWhPerDay.Count);
        Assert.Equal("10:00", data.ChargesPerHour[^1].Label);
        Assert.Equal(1, data.ChargesPerHour[^1].Value);
        Assert.Equal(1, data.ChargesPerHour.Single(b => b.Label == "07:00").Value);
        Assert.Equal(2, data.ChargesPerHour.Sum(b => b.Value));
        Assert.Equal("11-29", data.EnergyWhPerDay[^1].Label);
        Assert.Equal(7_000, data.EnergyWhPerDay[^1].Value);
        Assert.Equal(1_000, data.EnergyWhPerDay[^2].Value);
        Assert.Equal(1_600, data.RevenuePerDay[^1].Value);
        Assert.Equal(0, data.RevenuePerDay[0].Value);
        Assert.Equal(new DateTimeOffset(2026, 11, 16, 0, 0, 0, Kst), data.EnergyWhPerDay[0].Start);
        Assert.Equal(3, data.Sessions);
    }

    [Fact]
    public void Nice_ticks_start_at_zero_reach_the_maximum_in_round_steps()
    {
        Gen.Long[1, 100_000_000].Sample(max =>
        {
            var ticks = SvgCharts.NiceTicks(max);
            Assert.Equal(0, ticks[0]);
            Assert.True(ticks[^1] >= max);
            Assert.InRange(ticks.Count, 3, 7);
            var step = ticks[1] - ticks[0];
            var mantissa = step / Math.Pow(10, Math.Floor(Math.Log10(step)));
            Assert.Contains(Math.Round(mantissa, 6), new[] { 1.0, 2.0, 5.0 });
            Assert.True(ticks[^2] < max); // no empty step above the data
        });
    }

    [Fact]
    public void Bars_draw_one_rect_per_bucket_and_escape_labels()
    {
        var svg = SvgCharts.Bars([new ChartBar("<script>", 3, default), new ChartBar("b", 0, default)], v => v.ToString(), "t & t");
        Assert.Equal(2, svg.Split("<rect class=\"bar\"").Length - 1);
        Assert.DoesNotContain("<script>", svg);
        Assert.Contains("&lt;script&gt;: 3", svg);
        Assert.Contains("aria-label=\"t &amp; t\"", svg);
        Assert.Contains("no data", SvgCharts.Bars([], v => v.ToString(), "empty"));
    }

    [Fact]
    public void The_meter_plot_shows_energy_delivered_from_the_start_reading_to_the_stop()
    {
        var t0 = new DateTimeOffset(2026, 11, 25, 1, 0, 0, TimeSpan.Zero);
        var s = new SessionResponse("S", SessionState.Settled, "CP", 1, "cpo", 1, null, null, 30_000, 10_400, 3_120, null, false, 3_120, [], null,
            [new MeterSampleResponse(t0.AddMinutes(20), 106_900), new MeterSampleResponse(t0.AddMinutes(10), 103_200)],
            t0, t0.AddMinutes(30), null, null, false, 0, 0, t0, 100_000);
        Assert.Equal([(t0, 0L), (t0.AddMinutes(10), 3_200L), (t0.AddMinutes(20), 6_900L), (t0.AddMinutes(30), 10_400L)], ConsoleFormat.EnergyTimeline(s));
        Assert.Empty(ConsoleFormat.EnergyTimeline(s with { MeterStartWh = null, StartedAt = null }));
    }

    [Fact]
    public void The_statement_csv_has_one_row_per_line_and_defuses_formulas()
    {
        var day = new DateOnly(2026, 11, 25);
        var (from, to) = ConsoleFormat.DayRange(day);
        var statement = new SettlementStatement("cpo-a", day, "Asia/Seoul (+09:00)", from, to, 900, 90, 810, 1,
        [
            new RemittanceLine("S1", Ledger.JournalKind.Remit, 900, "pay_1", from.AddHours(1)),
            new RemittanceLine("S1", Ledger.JournalKind.RefundReversal, -90, "=HYPERLINK(\"x\")", from.AddHours(2)),
        ]);
        var lines = ConsoleFormat.StatementCsv(statement).Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("payee_account,date_kst,posted_at_kst,session_id,kind,amount_krw,reference", lines[0]);
        Assert.Equal("cpo-a,2026-11-25,2026-11-25T01:00:00+09:00,S1,Remit,900,pay_1", lines[1]);
        Assert.Equal("cpo-a,2026-11-25,2026-11-25T02:00:00+09:00,S1,RefundReversal,-90,\"'=HYPERLINK(\"\"x\"\")\"", lines[2]);
        Assert.Equal(3, lines.Length);
    }

    [Fact]
    public void Money_reads_as_won()
    {
        Assert.Equal("₩1,234,567", ConsoleFormat.Krw(1_234_567));
        Assert.Equal("−₩90", ConsoleFormat.Krw(-90));
        Assert.Equal("–", ConsoleFormat.Krw((long?)null));
        Assert.Equal("10.4 kWh", ConsoleFormat.Kwh(10_400));
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")] // owner-only is a Unix file mode
    public void The_first_run_key_file_is_created_owner_only_kept_and_tightened()
    {
        var dir = Directory.CreateTempSubdirectory("evc-key-").FullName;
        try
        {
            var path = Path.Combine(dir, "data", FirstRunOperatorKey.FileName);
            var (key, created, _) = FirstRunOperatorKey.ReadOrCreate(path);
            Assert.True(created);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
            Assert.StartsWith("evc-op-", key);

            var (again, createdAgain, tightened) = FirstRunOperatorKey.ReadOrCreate(path);
            Assert.Equal(key, again);
            Assert.False(createdAgain);
            Assert.False(tightened);

            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
            Assert.True(FirstRunOperatorKey.ReadOrCreate(path).Tightened);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));

            File.WriteAllText(path, "short");
            Assert.Throws<InvalidOperationException>(() => FirstRunOperatorKey.ReadOrCreate(path));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
