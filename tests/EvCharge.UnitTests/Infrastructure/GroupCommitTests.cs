using EvCharge.Infrastructure;

namespace EvCharge.UnitTests.Infrastructure;

public sealed class GroupCommitTests
{
    [Fact]
    public async Task Writes_waiting_together_share_one_commit_and_each_caller_gets_its_own_result()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var batches = new List<int[]>();
        await using var group = new GroupCommit<int, int>(async (items, _) =>
        {
            entered.TrySetResult();
            await gate.Task; // hold the first commit open so the rest queue up behind it
            lock (batches) batches.Add(items.ToArray());
            return items.Select(i => i * 10).ToList();
        }, maxBatch: 100, writers: 1);

        var first = group.WriteAsync(1);
        await entered.Task; // the writer has taken item 1 alone
        var rest = Enumerable.Range(2, 9).Select(i => group.WriteAsync(i)).ToList();
        gate.SetResult();

        Assert.Equal(10, await first);
        Assert.Equal(Enumerable.Range(2, 9).Select(i => i * 10), await Task.WhenAll(rest));
        Assert.Equal(2, batches.Count); // item 1, then the nine that waited meanwhile in one commit
        Assert.Equal(Enumerable.Range(2, 9), batches[1]);
        Assert.Equal(2, group.Commits);
        Assert.Equal(10, group.Items);
    }

    [Fact]
    public async Task An_item_the_store_refuses_fails_only_its_own_caller()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var committed = new List<int>();
        await using var group = new GroupCommit<int, bool>(async (items, _) =>
        {
            await gate.Task;
            if (items.Contains(13)) throw new InvalidOperationException("constraint violated by 13");
            lock (committed) committed.AddRange(items);
            return items.Select(_ => true).ToList();
        }, writers: 1);

        var writes = new[] { 11, 12, 13, 14 }.ToDictionary(i => i, i => group.WriteAsync(i));
        gate.SetResult();

        Assert.True(await writes[11]);
        Assert.True(await writes[12]);
        Assert.True(await writes[14]);
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => writes[13]);
        Assert.Contains("13", refused.Message);
        Assert.Equal([11, 12, 14], committed.Order());
    }

    [Fact]
    public async Task Dispose_drains_what_is_queued_and_refuses_new_writes()
    {
        var group = new GroupCommit<int, int>(async (items, _) => { await Task.Delay(10); return items.ToList(); }, writers: 1);
        var queued = Enumerable.Range(0, 20).Select(i => group.WriteAsync(i)).ToList();
        await group.DisposeAsync();
        Assert.Equal(Enumerable.Range(0, 20), await Task.WhenAll(queued));
        Assert.Throws<ObjectDisposedException>(() => { _ = group.WriteAsync(99); });
    }
}

public sealed class GroupCommitGatherTests
{
    [Fact]
    public async Task A_writer_that_finds_few_items_waits_its_gather_time_for_more_and_commits_them_together()
    {
        var batches = new List<int[]>();
        await using var group = new GroupCommit<int, int>((items, _) =>
        {
            lock (batches) batches.Add(items.ToArray());
            return Task.FromResult<IReadOnlyList<int>>(items.Select(i => i * 10).ToList());
        }, maxBatch: 100, writers: 1, gather: TimeSpan.FromSeconds(1), gatherTarget: 5);

        var first = group.WriteAsync(1); // alone in the queue: the writer waits up to a second for company
        await Task.Delay(100);
        Assert.False(first.IsCompleted); // not committed yet, so not acknowledged either
        var later = Enumerable.Range(2, 3).Select(i => group.WriteAsync(i)).ToList();

        Assert.Equal(10, await first);
        var laterResults = await Task.WhenAll(later);
        Assert.Equal(new[] { 20, 30, 40 }, laterResults);
        Assert.Equal([1, 2, 3, 4], Assert.Single(batches));
    }

    [Fact]
    public async Task A_batch_that_reaches_its_gather_target_commits_without_waiting()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var batches = new List<int[]>();
        await using var group = new GroupCommit<int, int>(async (items, _) =>
        {
            await gate.Task;
            lock (batches) batches.Add(items.ToArray());
            return items.ToList();
        }, maxBatch: 100, writers: 1, gather: TimeSpan.FromMinutes(10), gatherTarget: 3);

        var writes = Enumerable.Range(1, 3).Select(i => group.WriteAsync(i)).ToList(); // three at once: the target
        gate.SetResult();
        var results = await Task.WhenAll(writes).WaitAsync(TimeSpan.FromSeconds(30)); // not the ten-minute gather
        Assert.Equal(new[] { 1, 2, 3 }, results);
    }
}
