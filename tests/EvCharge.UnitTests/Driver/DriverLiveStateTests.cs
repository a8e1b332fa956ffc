using EvCharge.Charging;
using EvCharge.Silo.Driver;

namespace EvCharge.UnitTests.Driver;

/// <summary>What the driver's page shows for each state of the checkout and the session.</summary>
public sealed class DriverLiveStateTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 25, 1, 0, 0, TimeSpan.Zero);

    private static DriverChargeView Charge(DriverChargeStage stage, string? reason = null) =>
        new("EV0123456789ABCDEF01", stage, "CP-1", 1, "kakaopay", null, reason, T0, 30_000);

    private static SessionView Session(SessionState state, IReadOnlyList<MeterSample>? timeline = null, long? fee = null, long captured = 0,
        ReceiptLines? receipt = null, DateTimeOffset? stoppedAt = null, string? reason = null) =>
        new("EV0123456789ABCDEF01", state, "CP-1", 1, "cpo-1", 7, "kakaopay:w1", "az_1", 30_000, timeline is null ? 0 : timeline[^1].EnergyWh - 10_000,
            fee, null, false, captured, [], receipt, timeline ?? [], T0, stoppedAt, reason, null, false, 0, 0, T0)
        { MeterStartWh = 10_000, Tariff = Tariff.Flat("std", 300) };

    [Fact]
    public void Before_the_session_the_checkout_stage_decides()
    {
        Assert.Equal(DriverPhase.Approval, DriverLiveState.From(Charge(DriverChargeStage.AwaitingApproval), null, T0).Phase);
        Assert.Equal(DriverPhase.Starting, DriverLiveState.From(Charge(DriverChargeStage.Starting), null, T0).Phase);
        var failed = DriverLiveState.From(Charge(DriverChargeStage.Failed, "charger_offline"), null, T0);
        Assert.Equal(DriverPhase.Ended, failed.Phase);
        Assert.Equal("charger_offline", failed.Reason);
        Assert.True(failed.Final);
    }

    [Fact]
    public void While_charging_the_running_cost_power_and_elapsed_come_from_the_meter_values()
    {
        var timeline = new[] { new MeterSample(T0.AddMinutes(10), 13_000), new MeterSample(T0.AddMinutes(20), 19_000) };
        var live = DriverLiveState.From(Charge(DriverChargeStage.SessionOpened), Session(SessionState.Charging, timeline), T0.AddMinutes(21));
        Assert.Equal(DriverPhase.Charging, live.Phase);
        Assert.Equal(9_000, live.EnergyWh);
        Assert.Equal(2_700, live.RunningCost); // 9 kWh at 300 KRW/kWh
        Assert.Equal(36_000, live.PowerW);     // 6 kWh in 10 minutes
        Assert.Equal(21 * 60, live.ElapsedSeconds);
        Assert.Null(live.FinalCost);
        Assert.False(live.Final);
    }

    [Fact]
    public void After_the_stop_the_final_cost_then_the_receipt()
    {
        var timeline = new[] { new MeterSample(T0.AddMinutes(20), 19_000) };
        var settling = DriverLiveState.From(Charge(DriverChargeStage.SessionOpened), Session(SessionState.Settling, timeline, fee: 2_700, stoppedAt: T0.AddMinutes(30)), T0.AddHours(1));
        Assert.Equal(DriverPhase.Finishing, settling.Phase);
        Assert.Equal(2_700, settling.FinalCost);
        Assert.Equal(new ReceiptLines(2_700, 2_455, 245), settling.Receipt);
        Assert.Equal(30 * 60, settling.ElapsedSeconds);

        var settled = DriverLiveState.From(Charge(DriverChargeStage.None), Session(SessionState.Settled, timeline, fee: 2_700, captured: 2_700,
            receipt: new ReceiptLines(2_700, 2_455, 245), stoppedAt: T0.AddMinutes(30)), T0.AddHours(1));
        Assert.Equal(DriverPhase.Receipt, settled.Phase);
        Assert.Equal(2_700, settled.FinalCost);
        Assert.True(settled.Final);
    }

    [Fact]
    public void A_fee_above_the_hold_is_shown_as_what_is_charged_the_hold()
    {
        var timeline = new[] { new MeterSample(T0.AddMinutes(20), 120_000) };
        var live = DriverLiveState.From(Charge(DriverChargeStage.SessionOpened), Session(SessionState.Settling, timeline, fee: 33_000), T0);
        Assert.Equal(30_000, live.FinalCost);
    }

    [Fact]
    public void A_voided_start_ends_with_its_reason()
    {
        var live = DriverLiveState.From(Charge(DriverChargeStage.SessionOpened), Session(SessionState.Voided, reason: "start_timeout") with { StartedAt = null }, T0);
        Assert.Equal(DriverPhase.Ended, live.Phase);
        Assert.Equal("start_timeout", live.Reason);
        Assert.Null(live.FinalCost);
    }

    [Theory]
    [InlineData("ko", "charger_refused", "충전기가 시작을 거절했습니다.")]
    [InlineData("en", "start_timeout", "Charging did not start in time. Check that the cable is plugged into the car.")]
    [InlineData("en", "something_new", "Refused (something_new)")]
    public void Reasons_are_said_in_the_drivers_language(string lang, string code, string text) =>
        Assert.Equal(text, new DriverText(lang).Reason(code));
}
