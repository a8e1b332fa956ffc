using System.Threading.Channels;

namespace EvCharge.Infrastructure;

/// <summary>
/// Group commit for a store whose cost is per transaction (an fsync on commit), not per row: every caller waiting
/// when a writer gets its turn goes into one transaction. Each caller still returns only after the transaction
/// holding its item is durable, so callers see the same guarantee as one transaction each; under load a thousand
/// concurrent writes cost a handful of commits. With no load an item is written at once (no batching delay).
/// A failed transaction is retried item by item, so only the caller whose item the store refuses sees the error.
/// </summary>
public sealed class GroupCommit<TItem, TResult> : IAsyncDisposable
{
    private readonly Func<IReadOnlyList<TItem>, CancellationToken, Task<IReadOnlyList<TResult>>> _commit;
    private readonly Channel<Pending> _queue = Channel.CreateUnbounded<Pending>(new() { SingleReader = false, SingleWriter = false });
    private readonly int _maxBatch;
    private readonly TimeSpan _gather;
    private readonly int _gatherTarget;
    private readonly Task[] _writers;
    private readonly CancellationTokenSource _stopping = new();

    private sealed record Pending(TItem Item, TaskCompletionSource<TResult> Done);

    /// <param name="commit">Writes a batch in one transaction and returns one result per item, in order.</param>
    /// <param name="maxBatch">Largest batch per transaction.</param>
    /// <param name="writers">Transactions in flight at once: more than one keeps the database busy while a batch commits.
    /// With a gather window the writers after the first only step in under load (see <see cref="WriteLoopAsync"/>).</param>
    /// <param name="gather">
    /// When a writer finds fewer than <paramref name="gatherTarget"/> items waiting, it waits this long for more before
    /// committing (as PostgreSQL's commit_delay does): at moderate load a commit is quicker than the gaps between
    /// arrivals, so without it most transactions would carry one item. Zero commits at once.
    /// </param>
    public GroupCommit(Func<IReadOnlyList<TItem>, CancellationToken, Task<IReadOnlyList<TResult>>> commit, int maxBatch = 256, int writers = 2,
        TimeSpan gather = default, int gatherTarget = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBatch, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(writers, 1);
        _commit = commit ?? throw new ArgumentNullException(nameof(commit));
        _gather = gather;
        _gatherTarget = Math.Min(gatherTarget, maxBatch);
        _maxBatch = maxBatch;
        _writers = Enumerable.Range(0, writers).Select(i => Task.Run(() => WriteLoopAsync(overflow: i > 0 && gather > TimeSpan.Zero))).ToArray();
    }

    /// <summary>Total transactions committed, for diagnostics (items per commit = items / commits).</summary>
    public long Commits => Interlocked.Read(ref _commits);
    public long Items => Interlocked.Read(ref _items);
    private long _commits;
    private long _items;

    public Task<TResult> WriteAsync(TItem item, CancellationToken ct = default)
    {
        var pending = new Pending(item, new TaskCompletionSource<TResult>(TaskCreationOptions.RunContinuationsAsynchronously));
        if (!_queue.Writer.TryWrite(pending)) throw new ObjectDisposedException(nameof(GroupCommit<TItem, TResult>));
        return ct.CanBeCanceled ? pending.Done.Task.WaitAsync(ct) : pending.Done.Task;
    }

    /// <param name="overflow">
    /// With a gather window, writers after the first take a batch only when a full gather target is waiting: at moderate
    /// load one writer gathers (few commits), under heavy load the others commit beside it (more throughput).
    /// </param>
    private async Task WriteLoopAsync(bool overflow)
    {
        var batch = new List<Pending>(_maxBatch);
        var items = new List<TItem>(_maxBatch);
        while (await _queue.Reader.WaitToReadAsync().ConfigureAwait(false))
        {
            if (overflow && _queue.Reader.Count < _gatherTarget)
            {
                await Task.Delay(_gather).ConfigureAwait(false);
                continue;
            }
            batch.Clear();
            items.Clear();
            Drain(batch, items);
            if (batch.Count == 0) continue;
            if (batch.Count < _gatherTarget && _gather > TimeSpan.Zero)
            {
                await Task.Delay(_gather).ConfigureAwait(false);
                Drain(batch, items);
            }
            try
            {
                var results = await _commit(items, _stopping.Token).ConfigureAwait(false);
                if (results.Count != batch.Count) throw new InvalidOperationException($"commit returned {results.Count} results for {batch.Count} items");
                Interlocked.Increment(ref _commits);
                Interlocked.Add(ref _items, batch.Count);
                for (var i = 0; i < batch.Count; i++) batch[i].Done.TrySetResult(results[i]);
            }
            catch (Exception) when (batch.Count > 1)
            {
                // One item the store refuses must not fail the others that happened to share its transaction:
                // write each alone, so only the item at fault sees the error.
                foreach (var p in batch) await CommitAloneAsync(p).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                batch[0].Done.TrySetException(ex);
            }
        }
    }

    private void Drain(List<Pending> batch, List<TItem> items)
    {
        while (batch.Count < _maxBatch && _queue.Reader.TryRead(out var next))
        {
            batch.Add(next);
            items.Add(next.Item);
        }
    }

    private async Task CommitAloneAsync(Pending p)
    {
        try
        {
            var results = await _commit([p.Item], _stopping.Token).ConfigureAwait(false);
            Interlocked.Increment(ref _commits);
            Interlocked.Increment(ref _items);
            p.Done.TrySetResult(results[0]);
        }
        catch (Exception ex)
        {
            p.Done.TrySetException(ex);
        }
    }

    private int _disposed;

    public async ValueTask DisposeAsync()
    {
        // A singleton registered under two service types is disposed by the container once per registration.
        if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
        _queue.Writer.TryComplete(); // writers drain what is queued, then stop
        await Task.WhenAll(_writers).WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await _stopping.CancelAsync();
        _stopping.Dispose();
    }
}
