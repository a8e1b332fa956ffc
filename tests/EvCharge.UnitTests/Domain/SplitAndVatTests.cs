using CsCheck;
using EvCharge.Charging;
using EvCharge.Domain;

namespace EvCharge.UnitTests.Domain;

public class SplitAndVatTests
{
    [Fact]
    public void Platform_takes_basis_points_plus_fixed_and_cpo_gets_the_rest()
    {
        var parts = SplitCalculator.Split(12_345, new Commission(1_000, 50), "cpo-1", "platform");
        Assert.Equal(1_234 + 50, parts.Single(p => p.Role == PayeeRole.Platform).Amount);
        Assert.Equal(12_345 - 1_284, parts.Single(p => p.Role == PayeeRole.Cpo).Amount);
    }

    [Fact]
    public void Fixed_commission_is_capped_at_the_fee()
    {
        var parts = SplitCalculator.Split(30, new Commission(0, 100), "cpo-1", "platform");
        Assert.Equal(30, parts.Single().Amount);
        Assert.Equal(PayeeRole.Platform, parts.Single().Role);
    }

    [Fact]
    public void Invalid_commission_is_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => SplitCalculator.Split(100, new Commission(10_001), "c", "p"));
        Assert.Throws<ArgumentOutOfRangeException>(() => SplitCalculator.Split(-1, new Commission(100), "c", "p"));
    }

    [Fact]
    public void Parts_always_sum_to_the_fee_and_are_positive()
    {
        Gen.Select(Gen.Long[0, 10_000_000], Gen.Int[0, 10_000], Gen.Long[0, 5_000]).Sample((fee, bp, fixedPart) =>
        {
            var parts = SplitCalculator.Split(fee, new Commission(bp, fixedPart), "cpo", "platform");
            Assert.Equal(fee, parts.Sum(p => p.Amount));
            Assert.All(parts, p => Assert.True(p.Amount > 0));
        });
    }

    [Fact]
    public void Refund_reversals_sum_to_the_refund_and_never_exceed_a_payees_part()
    {
        Gen.Select(Gen.Long[1, 1_000_000], Gen.Int[0, 10_000], Gen.Int[1, 5]).Sample((fee, bp, refunds) =>
        {
            var split = SplitCalculator.Split(fee, new Commission(bp, 0), "cpo", "platform");
            var reversed = new List<SplitPart>();
            var left = fee;
            for (var i = 0; i < refunds && left > 0; i++)
            {
                var amount = i == refunds - 1 ? left : Math.Max(1, left / 3);
                var parts = SplitCalculator.Reverse(amount, split, reversed);
                Assert.Equal(amount, parts.Sum(p => p.Amount));
                reversed.AddRange(parts);
                left -= amount;
            }
            foreach (var p in split)
                Assert.True(reversed.Where(r => r.PayeeAccount == p.PayeeAccount).Sum(r => r.Amount) <= p.Amount);
        });
    }

    [Fact]
    public void Refund_beyond_what_is_left_is_refused()
    {
        var split = SplitCalculator.Split(1_000, new Commission(1_000), "cpo", "platform");
        Assert.Throws<ArgumentOutOfRangeException>(() => SplitCalculator.Reverse(1_001, split, []));
    }

    [Theory]
    [InlineData(11_000, 1_000)]
    [InlineData(10, 1)]     // 0.909 -> 1
    [InlineData(5, 0)]      // 0.4545 -> 0
    [InlineData(6, 1)]      // 0.5454 -> 1
    [InlineData(4_284, 389)] // 389.45 -> 389
    [InlineData(0, 0)]
    public void Vat_is_total_over_eleven_rounded(long total, long vat)
    {
        var receipt = Vat.Receipt(total);
        Assert.Equal(vat, receipt.Vat);
        Assert.Equal(total - vat, receipt.SupplyValue);
    }

    [Fact]
    public void Vat_matches_decimal_rounding_for_all_amounts()
    {
        Gen.Long[0, 100_000_000].Sample(total =>
        {
            var expected = (long)Math.Round(total / 11m, MidpointRounding.AwayFromZero);
            Assert.Equal(expected, Vat.Of(total));
        });
    }

    [Fact]
    public void Hold_policy()
    {
        Assert.Equal(30_000, HoldPolicy.Resolve(30_000, 20_000, 10_000));
        Assert.Equal(20_000, HoldPolicy.Resolve(0, 20_000, 10_000));
        Assert.Equal(10_000, HoldPolicy.Resolve(0, null, 10_000));
        Assert.True(HoldPolicy.ShouldStop(9_500, 10_000, 500));
        Assert.False(HoldPolicy.ShouldStop(9_499, 10_000, 500));
        Assert.Equal((8_000L, 0L), HoldPolicy.CaptureWithin(8_000, 10_000));
        Assert.Equal((10_000L, 1_234L), HoldPolicy.CaptureWithin(11_234, 10_000));
    }
}
