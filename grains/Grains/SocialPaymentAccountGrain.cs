using EvCharge.Charging;

namespace EvCharge.Grains;

[GenerateSerializer]
public sealed record WalletRecord
{
    [Id(0)] public string? ActiveSession { get; init; }
    [Id(1)] public bool Blocked { get; init; }
    [Id(2)] public string? BlockedReason { get; init; }
    [Id(3)] public IReadOnlyList<string> RecentSessions { get; init; } = [];
    [Id(4)] public long TotalPaid { get; init; }
}

/// <summary>
/// The driver's wallet as EvCharge sees it. Its one rule that the provider cannot enforce for us: a wallet has
/// at most one active hold, so the same phone cannot start a second charger while a session is open.
/// </summary>
internal sealed class SocialPaymentAccountGrain(
    [PersistentState("wallet", "evcharge")] IPersistentState<WalletRecord> state) : Grain, ISocialPaymentAccountGrain
{
    private const int RecentKept = 50;
    private WalletRecord S => state.State;

    async Task<HoldClaim> ISocialPaymentAccountGrain.TryClaimHold(string sessionId)
    {
        if (S.Blocked) return new HoldClaim(false, null, "wallet_blocked");
        if (S.ActiveSession == sessionId) return new HoldClaim(true, sessionId, null);
        if (S.ActiveSession is { } other) return new HoldClaim(false, other, "wallet_has_open_session");
        await Save(S with { ActiveSession = sessionId });
        return new HoldClaim(true, sessionId, null);
    }

    async Task ISocialPaymentAccountGrain.ReleaseHold(string sessionId)
    {
        if (S.ActiveSession != sessionId) return;
        await Save(S with { ActiveSession = null });
    }

    async Task ISocialPaymentAccountGrain.RecordReceipt(string sessionId, long amount)
    {
        if (S.RecentSessions.Contains(sessionId)) return; // a replayed settlement is not counted twice
        var recent = S.RecentSessions.Append(sessionId).TakeLast(RecentKept).ToList();
        await Save(S with { RecentSessions = recent, TotalPaid = S.TotalPaid + amount });
    }

    Task<WalletView> ISocialPaymentAccountGrain.GetView() =>
        Task.FromResult(new WalletView(this.GetPrimaryKeyString(), S.ActiveSession, S.Blocked, S.RecentSessions, S.TotalPaid));

    async Task ISocialPaymentAccountGrain.SetBlocked(bool blocked, string? reason) =>
        await Save(S with { Blocked = blocked, BlockedReason = blocked ? reason : null });

    private async Task Save(WalletRecord next)
    {
        state.State = next;
        await state.WriteStateAsync();
    }
}
