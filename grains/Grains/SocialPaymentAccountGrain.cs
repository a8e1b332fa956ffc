using EvCharge.Charging;
using EvCharge.Sessions;

namespace EvCharge.Grains;

[GenerateSerializer]
public sealed record WalletRecord
{
    // Id 0 (the active session), 3 and 4 (recent sessions, total paid) were stored by earlier versions; they are derived
    // from the wallet's sessions now and their ids stay reserved.
    [Id(1)] public bool Blocked { get; init; }
    [Id(2)] public string? BlockedReason { get; init; }
}

/// <summary>
/// The driver's wallet as EvCharge sees it. Its one rule that the provider cannot enforce for us: a wallet has at most
/// one live session, so the same phone cannot start a second charger while a charge is open. Which session is live is
/// not stored here: this grain remembers the claims it granted, and the session rows carry a unique index on live
/// wallets that decides (a claim granted here that the database then refuses, for instance after this grain was
/// reactivated during a long charge, is voided like any other refusal). Only the operator's block is stored.
/// </summary>
internal sealed class SocialPaymentAccountGrain(
    [PersistentState("wallet", "evcharge")] IPersistentState<WalletRecord> state,
    ISessionStore sessions,
    TimeProvider clock) : Grain, ISocialPaymentAccountGrain
{
    private const int RecentKept = 50;
    /// <summary>A claim younger than this may still be on its way to the database; an older one is checked against it.</summary>
    private static readonly TimeSpan ClaimInFlight = TimeSpan.FromSeconds(5);
    private string? _live;
    private DateTimeOffset _claimedAt;

    private WalletRecord S => state.State;
    private string WalletKey => this.GetPrimaryKeyString();

    async Task<HoldClaim> ISocialPaymentAccountGrain.TryClaimHold(string sessionId)
    {
        if (S.Blocked) return new HoldClaim(false, null, "wallet_blocked");
        if (_live is { } other && other != sessionId)
        {
            if (clock.GetUtcNow() - _claimedAt < ClaimInFlight) return new HoldClaim(false, other, "wallet_has_open_session");
            // The release is a one-way message after the holder's own write; if it was lost, the row tells the truth.
            _live = await sessions.LiveOnWalletAsync(WalletKey);
            if (_live is { } holder && holder != sessionId) return new HoldClaim(false, holder, "wallet_has_open_session");
        }
        _live = sessionId;
        _claimedAt = clock.GetUtcNow();
        return new HoldClaim(true, sessionId, null);
    }

    Task ISocialPaymentAccountGrain.ReleaseHold(string sessionId)
    {
        if (_live == sessionId) _live = null;
        return Task.CompletedTask;
    }

    async Task<WalletView> ISocialPaymentAccountGrain.GetView()
    {
        var history = await sessions.WalletHistoryAsync(WalletKey, RecentKept);
        return new WalletView(WalletKey, _live, S.Blocked, history.RecentSessions, history.TotalPaid);
    }

    async Task ISocialPaymentAccountGrain.SetBlocked(bool blocked, string? reason)
    {
        state.State = S with { Blocked = blocked, BlockedReason = blocked ? reason : null };
        await state.WriteStateAsync();
    }
}
