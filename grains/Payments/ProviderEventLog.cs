using System.Collections.Concurrent;

namespace EvCharge.Payments;

/// <summary>A verified provider event and what the provider's API said about the authorization afterwards.</summary>
public sealed record ReceivedProviderEvent(
    string Provider, ProviderEvent Event, ProviderAuthorization? Authorization, DateTimeOffset ReceivedAt);

/// <summary>
/// The recent verified webhooks per provider (bounded, newest kept), for reconciliation and operators: each entry
/// pairs the event with the authorization as re-read from the provider, so a status change the session has not seen
/// (a hold expired, a refund made in the provider's dashboard) shows up without waiting for the next full run.
/// Duplicate deliveries (same event id) are kept once.
/// </summary>
public sealed class ProviderEventLog(int capacity = 1000)
{
    private readonly ConcurrentQueue<ReceivedProviderEvent> _events = new();
    private readonly ConcurrentDictionary<string, byte> _seen = new();

    /// <summary>False when this event id was already recorded (providers deliver at least once).</summary>
    public bool Add(ReceivedProviderEvent e)
    {
        if (!_seen.TryAdd($"{e.Provider}/{e.Event.EventId}", 0)) return false;
        _events.Enqueue(e);
        while (_events.Count > capacity && _events.TryDequeue(out var old)) _seen.TryRemove($"{old.Provider}/{old.Event.EventId}", out _);
        return true;
    }

    public IReadOnlyList<ReceivedProviderEvent> Recent(string? provider = null) =>
        _events.Where(e => provider is null || string.Equals(e.Provider, provider, StringComparison.OrdinalIgnoreCase)).Reverse().ToList();
}
