using System.Globalization;

namespace EvCharge.LoadTests.Driver;

/// <summary>
/// Reads the silo's own histogram of wallet-provider authorization calls (<c>evcharge.authorization.duration</c>,
/// Prometheus at <c>/metrics</c>), so a report can show how much of the driver's authorize latency the provider took.
/// Percentiles come from cumulative bucket counts: each is the upper bound of the bucket that holds it.
/// </summary>
public static class SiloMetrics
{
    private const string Histogram = "evcharge_authorization_duration";

    /// <summary>Cumulative count per bucket upper bound (ms), summed over label sets; null if /metrics does not answer.</summary>
    public static async Task<SortedDictionary<double, long>?> ProviderAuthorizationBucketsAsync(Uri api, CancellationToken ct)
    {
        try
        {
            using var http = new HttpClient { BaseAddress = api, Timeout = TimeSpan.FromSeconds(10) };
            return ParseBuckets(await http.GetStringAsync("/metrics", ct));
        }
        catch (Exception) when (!ct.IsCancellationRequested)
        {
            return null;
        }
    }

    public static SortedDictionary<double, long> ParseBuckets(string exposition)
    {
        var buckets = new SortedDictionary<double, long>();
        foreach (var line in exposition.Split('\n'))
        {
            if (!line.StartsWith(Histogram, StringComparison.Ordinal) || !line.Contains("_bucket{", StringComparison.Ordinal)) continue;
            var le = line.IndexOf("le=\"", StringComparison.Ordinal);
            if (le < 0) continue;
            var end = line.IndexOf('"', le + 4);
            var bound = line[(le + 4)..end] == "+Inf" ? double.PositiveInfinity : double.Parse(line[(le + 4)..end], CultureInfo.InvariantCulture);
            var value = line[(line.LastIndexOf('}') + 1)..].Trim().Split(' ')[0];
            buckets[bound] = buckets.GetValueOrDefault(bound) + (long)double.Parse(value, CultureInfo.InvariantCulture);
        }
        return buckets;
    }

    /// <summary>Count and bucket-bound percentiles of what was recorded between two scrapes.</summary>
    public static (long Count, double P50, double P95, double P99)? Between(SortedDictionary<double, long> before, SortedDictionary<double, long> after)
    {
        var delta = after.ToDictionary(kv => kv.Key, kv => kv.Value - before.GetValueOrDefault(kv.Key));
        var count = delta.GetValueOrDefault(double.PositiveInfinity);
        if (count <= 0) return null;
        double At(double q) => delta.Where(kv => kv.Value >= q * count).Select(kv => kv.Key).DefaultIfEmpty(double.PositiveInfinity).Min();
        return (count, At(0.50), At(0.95), At(0.99));
    }
}
