using System.Collections.Concurrent;

namespace EvCharge.ChargerBridge.WebSockets;

/// <summary>
/// Counts failed logins per key (a charger id, a remote address) in fixed windows: once a key has
/// <c>limit</c> failures in its window it is refused until the window ends, so guessing a charger's secret costs
/// minutes per handful of tries, from one address or many. Successful logins are not counted. The table is bounded:
/// expired windows are swept, and when it is still full a new key is not tracked (the other key still throttles).
/// </summary>
public sealed class LoginThrottle(int limit, TimeSpan window, TimeProvider time, int maxKeys = 100_000)
{
    private readonly ConcurrentDictionary<string, Window> _failures = new(StringComparer.Ordinal);

    private sealed record Window(DateTimeOffset Start, int Count);

    public int Tracked => _failures.Count;

    /// <summary>When the key may try again, or null if it may try now.</summary>
    public DateTimeOffset? RefusedUntil(string key)
    {
        if (!_failures.TryGetValue(key, out var w)) return null;
        var end = w.Start + window;
        return w.Count >= limit && time.GetUtcNow() < end ? end : null;
    }

    public void Failed(string key)
    {
        var now = time.GetUtcNow();
        if (!_failures.ContainsKey(key) && _failures.Count >= maxKeys)
        {
            Sweep(now);
            if (_failures.Count >= maxKeys) return;
        }
        _failures.AddOrUpdate(key, _ => new Window(now, 1),
            (_, w) => now >= w.Start + window ? new Window(now, 1) : w with { Count = w.Count + 1 });
    }

    /// <summary>A charger that logged in forgets its earlier failures (its own typo or a reboot with an old secret).</summary>
    public void Succeeded(string key) => _failures.TryRemove(key, out _);

    private void Sweep(DateTimeOffset now)
    {
        foreach (var (key, w) in _failures)
            if (now >= w.Start + window) _failures.TryRemove(new KeyValuePair<string, Window>(key, w));
    }
}
