using System.Collections.Concurrent;
using System.Threading.Channels;

namespace EvCharge.SocialSandbox;

/// <summary>
/// Pushes receipts to the phones that are listening (the SSE streams of <c>/v1/wallets/{id}/receipts/stream</c>).
/// Each subscriber gets its own unbounded channel so a slow phone never holds up a capture.
/// </summary>
public sealed class ReceiptHub
{
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<Guid, Channel<Receipt>>> _subscribers = new();

    public ReceiptSubscription Subscribe(string walletId)
    {
        var channel = Channel.CreateUnbounded<Receipt>(new UnboundedChannelOptions { SingleReader = true });
        var id = Guid.NewGuid();
        var forWallet = _subscribers.GetOrAdd(walletId, _ => new());
        forWallet[id] = channel;
        return new ReceiptSubscription(channel.Reader, () =>
        {
            if (forWallet.TryRemove(id, out var c)) c.Writer.TryComplete();
        });
    }

    public int SubscriberCount(string walletId) => _subscribers.TryGetValue(walletId, out var s) ? s.Count : 0;

    internal void Publish(Receipt receipt)
    {
        if (!_subscribers.TryGetValue(receipt.WalletId, out var forWallet)) return;
        foreach (var channel in forWallet.Values) channel.Writer.TryWrite(receipt);
    }
}

public sealed class ReceiptSubscription(ChannelReader<Receipt> reader, Action unsubscribe) : IDisposable
{
    private int _disposed;
    public ChannelReader<Receipt> Reader { get; } = reader;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0) unsubscribe();
    }
}
