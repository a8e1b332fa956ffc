using CsCheck;
using EvCharge.Charging;
using EvCharge.Domain;

namespace EvCharge.UnitTests.Domain;

public class FeeCalculatorTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 25, 1, 0, 0, TimeSpan.Zero); // 10:00 KST

    [Fact]
    public void Flat_tariff_charges_energy_times_price_rounded_once()
    {
        // 12,345 Wh at 347 KRW/kWh = 4,283.715 KRW -> 4,284 KRW
        var fee = FeeCalculator.Compute(Tariff.Flat("t", 347), 1_000, Start, [], 13_345, Start.AddMinutes(40));
        Assert.Equal(12_345, fee.EnergyWh);
        Assert.Equal(4_284, fee.Fee);
        Assert.False(fee.BelowMinimum);
    }

    [Fact]
    public void Half_won_rounds_up()
    {
        // 1,500 Wh at 1 KRW/kWh = 1.5 KRW -> 2; 1,499 Wh -> 1.499 -> 1
        Assert.Equal(2, FeeCalculator.Compute(Tariff.Flat("t", 1), 0, Start, [], 1_500, Start.AddMinutes(1)).Fee);
        Assert.Equal(1, FeeCalculator.Compute(Tariff.Flat("t", 1), 0, Start, [], 1_499, Start.AddMinutes(1)).Fee);
    }

    [Fact]
    public void Time_of_use_bands_price_each_interval_by_its_local_hour()
    {
        // Peak band 10:00-12:00 KST at 400, otherwise 200. 5 kWh in the peak hour, 5 kWh after noon.
        var tariff = new Tariff("tou", 200, [new TimeOfUseBand(10, 12, 400)]);
        var samples = new[] { new MeterSample(Start.AddHours(1), 5_000), new MeterSample(Start.AddHours(2), 5_000) };
        var fee = FeeCalculator.Compute(tariff, 0, Start.AddHours(1).AddMinutes(-60), samples, 10_000, Start.AddHours(3));
        Assert.Equal(5 * 400 + 5 * 200, fee.Fee);
    }

    [Fact]
    public void Overnight_band_wraps_midnight()
    {
        var tariff = new Tariff("night", 300, [new TimeOfUseBand(22, 6, 100)]);
        Assert.Equal(100, FeeCalculator.PriceAt(tariff, new DateTimeOffset(2026, 11, 25, 23, 30, 0, TimeSpan.FromHours(9))));
        Assert.Equal(100, FeeCalculator.PriceAt(tariff, new DateTimeOffset(2026, 11, 25, 2, 0, 0, TimeSpan.FromHours(9))));
        Assert.Equal(300, FeeCalculator.PriceAt(tariff, new DateTimeOffset(2026, 11, 25, 6, 0, 0, TimeSpan.FromHours(9))));
    }

    [Fact]
    public void Per_minute_and_idle_fees_apply_after_the_grace_period()
    {
        // 30 min at 10 KRW/min = 300; energy stops at minute 10, grace 5 min -> 15 idle minutes at 20 = 300.
        var tariff = new Tariff("t", 0, [], PricePerMinute: 10, IdleFeePerMinute: 20, IdleGraceMinutes: 5);
        var samples = new[] { new MeterSample(Start.AddMinutes(10), 2_000), new MeterSample(Start.AddMinutes(20), 2_000) };
        var fee = FeeCalculator.Compute(tariff, 0, Start, samples, 2_000, Start.AddMinutes(30));
        Assert.Equal(300, fee.TimePart);
        Assert.Equal(300, fee.IdlePart);
        Assert.Equal(600, fee.Fee);
    }

    [Fact]
    public void Below_minimum_energy_is_free()
    {
        var tariff = Tariff.Flat("t", 300) with { MinimumBillableWh = 100 };
        var fee = FeeCalculator.Compute(tariff, 0, Start, [], 99, Start.AddMinutes(5));
        Assert.True(fee.BelowMinimum);
        Assert.Equal(0, fee.Fee);
    }

    [Fact]
    public void Meter_values_duplicated_reordered_or_glitching_do_not_change_the_fee()
    {
        var tariff = new Tariff("tou", 200, [new TimeOfUseBand(10, 11, 450), new TimeOfUseBand(11, 12, 320)]);
        var gen = Gen.Int[1, 60].Array[1, 30].Select(steps =>
        {
            var t = Start; var wh = 0L; var list = new List<MeterSample>();
            foreach (var s in steps) { t = t.AddMinutes(s); wh += s * 37; list.Add(new MeterSample(t, wh)); }
            return list;
        });
        gen.Sample(samples =>
        {
            var stop = samples[^1].Timestamp.AddMinutes(1);
            var meterStop = samples[^1].EnergyWh;
            var expected = FeeCalculator.Compute(tariff, 0, Start, samples, meterStop, stop).Fee;
            var shuffled = samples.Concat(samples.Take(3)).OrderBy(s => s.Timestamp.Ticks % 7).ToList();
            Assert.Equal(expected, FeeCalculator.Compute(tariff, 0, Start, shuffled, meterStop, stop).Fee);
            var glitch = samples.Append(new MeterSample(Start.AddSeconds(30), meterStop * 10)).ToList();
            var withGlitch = FeeCalculator.Compute(tariff, 0, Start, glitch, meterStop, stop);
            Assert.Equal(meterStop, withGlitch.EnergyWh);
        });
    }

    [Fact]
    public void Flat_fee_depends_only_on_total_energy()
    {
        Gen.Select(Gen.Long[0, 200_000], Gen.Long[0, 2_000], Gen.Int[0, 30]).Sample((wh, price, n) =>
        {
            var samples = Enumerable.Range(1, n).Select(i => new MeterSample(Start.AddMinutes(i), wh * i / (n + 1))).ToList();
            var fee = FeeCalculator.Compute(Tariff.Flat("t", price), 0, Start, samples, wh, Start.AddMinutes(n + 1)).Fee;
            Assert.Equal((wh * price * 60 + 30_000) / 60_000, fee);
        });
    }

    [Fact]
    public void Running_cost_grows_with_samples()
    {
        var tariff = Tariff.Flat("t", 300);
        var early = FeeCalculator.RunningCost(tariff, 0, Start, [new MeterSample(Start.AddMinutes(5), 1_000)]);
        var later = FeeCalculator.RunningCost(tariff, 0, Start, [new MeterSample(Start.AddMinutes(5), 1_000), new MeterSample(Start.AddMinutes(10), 3_000)]);
        Assert.Equal(300, early);
        Assert.Equal(900, later);
    }
}
