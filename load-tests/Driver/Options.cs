using System.Globalization;

namespace EvCharge.LoadTests.Driver;

/// <summary>`--name value` and `--flag` command-line options.</summary>
public sealed class Options
{
    private readonly Dictionary<string, string?> _values = new(StringComparer.OrdinalIgnoreCase);

    public Options(IEnumerable<string> args)
    {
        string? key = null;
        foreach (var a in args)
        {
            if (a.StartsWith("--", StringComparison.Ordinal))
            {
                if (key is not null) _values[key] = null;
                var eq = a.IndexOf('=');
                if (eq > 0) { _values[a[2..eq]] = a[(eq + 1)..]; key = null; }
                else key = a[2..];
            }
            else if (key is not null) { _values[key] = a; key = null; }
        }
        if (key is not null) _values[key] = null;
    }

    public Options Set(string key, string? value) { _values[key] = value; return this; }
    public bool Has(string key) => _values.ContainsKey(key);
    public string? GetOrNull(string key) => _values.TryGetValue(key, out var v) ? v : null;
    public string Get(string key, string fallback) => GetOrNull(key) ?? fallback;
    public int Int(string key, int fallback) => GetOrNull(key) is { } v ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;
    public double Double(string key, double fallback) => GetOrNull(key) is { } v ? double.Parse(v, CultureInfo.InvariantCulture) : fallback;
    public TimeSpan Seconds(string key, double fallback) => TimeSpan.FromSeconds(Double(key, fallback));
    public IReadOnlyDictionary<string, string?> All => _values;
}
