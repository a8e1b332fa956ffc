using System.Collections.Concurrent;

namespace EvCharge.ChargerBridge.Ocpp;

/// <summary>
/// The server-initiated CALLs (RemoteStartTransaction, RemoteStopTransaction, DataTransfer) still waiting for the charger's CALLRESULT or CALLERROR.
/// Answers are correlated by message id; unanswered entries expire so a silent charger cannot grow the table.
/// </summary>
public sealed class OcppPendingCalls(TimeProvider time)
{
    public static readonly TimeSpan Expiry = TimeSpan.FromMinutes(5);
    private const int SweepThreshold = 1024;

    private readonly ConcurrentDictionary<string, PendingCall> _calls = new(StringComparer.Ordinal);

    public OcppPendingCalls() : this(TimeProvider.System) { }

    /// <param name="Reference">What the answer concerns (the session of a RemoteStartTransaction), from <c>ChargerCommand.Reference</c>.</param>
    public sealed record PendingCall(string ChargerId, string Action, DateTimeOffset SentAt, string? Reference = null);

    public int Count => _calls.Count;

    /// <summary>A fresh OCPP message id (32 hex characters, within the 36-character limit).</summary>
    public static string NewMessageId() => Guid.NewGuid().ToString("N");

    public void Add(string messageId, string chargerId, string action, string? reference = null)
    {
        if (_calls.Count >= SweepThreshold) Sweep();
        _calls[messageId] = new PendingCall(chargerId, action, time.GetUtcNow(), reference);
    }

    /// <summary>Removes and returns the call an answer belongs to, if it came from the charger we sent it to.</summary>
    public PendingCall? Complete(string chargerId, string messageId)
    {
        if (_calls.TryGetValue(messageId, out var call) && call.ChargerId == chargerId
            && _calls.TryRemove(new KeyValuePair<string, PendingCall>(messageId, call)))
            return call;
        return null;
    }

    private void Sweep()
    {
        var cutoff = time.GetUtcNow() - Expiry;
        foreach (var (id, call) in _calls)
            if (call.SentAt < cutoff) _calls.TryRemove(id, out _);
    }
}
