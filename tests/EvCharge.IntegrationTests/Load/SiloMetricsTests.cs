using EvCharge.LoadTests.Driver;

namespace EvCharge.IntegrationTests.Load;

/// <summary>The driver's reading of the silo's provider-latency histogram (pure; Prometheus text in, percentiles out).</summary>
public sealed class SiloMetricsTests
{
    private static string Exposition(params (string Le, long Count)[] buckets) => string.Join('\n',
        new[] { "# TYPE evcharge_authorization_duration_milliseconds histogram" }
            .Concat(buckets.Select(b => $"evcharge_authorization_duration_milliseconds_bucket{{otel_scope_name=\"EvCharge\",provider=\"sandbox\",le=\"{b.Le}\"}} {b.Count} 1764000000000"))
            .Append("evcharge_sessions_transitions_total{state=\"Settled\"} 5 1764000000000"));

    [Fact]
    public void Percentiles_are_the_bounds_of_the_buckets_that_hold_them_counting_only_the_run()
    {
        var before = SiloMetrics.ParseBuckets(Exposition(("5", 10), ("10", 10), ("25", 10), ("100", 10), ("+Inf", 10)));
        // During the run: 100 calls, 60 within 5 ms, 35 more within 10 ms, 4 within 25 ms, 1 within 100 ms.
        var after = SiloMetrics.ParseBuckets(Exposition(("5", 70), ("10", 105), ("25", 109), ("100", 110), ("+Inf", 110)));

        var p = SiloMetrics.Between(before, after);

        Assert.NotNull(p);
        Assert.Equal(100, p.Value.Count);
        Assert.Equal(5, p.Value.P50);
        Assert.Equal(10, p.Value.P95);
        Assert.Equal(25, p.Value.P99);
    }

    [Fact]
    public void Label_sets_are_summed_and_other_metrics_ignored_and_no_calls_gives_nothing()
    {
        var text = Exposition(("5", 3), ("+Inf", 4)) + "\n" + Exposition(("5", 1), ("+Inf", 1)).Replace("sandbox", "other");
        var buckets = SiloMetrics.ParseBuckets(text);
        Assert.Equal(4, buckets[5]);
        Assert.Equal(5, buckets[double.PositiveInfinity]);
        Assert.Null(SiloMetrics.Between(buckets, buckets));
    }
}
