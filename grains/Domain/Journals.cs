using EvCharge.Charging;
using EvCharge.Ledger;

namespace EvCharge.Domain;

/// <summary>
/// The journals a session posts, as pure functions. Keys are derived from the session (and payee or
/// refund id) so a replayed step posts nothing twice. The <c>sessionId</c> of each is the ledger scope of one
/// authorization: the session id for the first, <see cref="Scope"/> for the ones a long charge rolled over to.
/// </summary>
public static class Journals
{
    /// <summary>The ledger scope (and provider order id) of a session's <paramref name="number"/>-th authorization: 0 is the session itself.</summary>
    public static string Scope(string sessionId, int number) => number == 0 ? sessionId : $"{sessionId}-r{number}";

    /// <summary>A deposit provider charged the deposit at authorization (Toss Payments, KakaoPay): the money left the wallet.</summary>
    public static Journal Deposit(string sessionId, string walletKey, long amount, string authorizationId) =>
        Two($"{sessionId}:hold", sessionId, JournalKind.Deposit, Accounts.Hold(sessionId), Accounts.Wallet(walletKey), amount, authorizationId);

    /// <summary>The unused part of a deposit, cancelled back to the wallet when the fee is known.</summary>
    public static Journal PartialCancel(string sessionId, string walletKey, long amount) =>
        Two($"{sessionId}:release", sessionId, JournalKind.PartialCancel, Accounts.Wallet(walletKey), Accounts.Hold(sessionId), amount, "partial_cancel");

    /// <summary>An open hold raised by <paramref name="amount"/> (the n-th increment of the session).</summary>
    public static Journal HoldIncrement(string sessionId, int number, string walletKey, long amount, string authorizationId) =>
        Two($"{sessionId}:increment:{number}", sessionId, JournalKind.HoldIncrement, Accounts.Hold(sessionId), Accounts.Wallet(walletKey), amount, authorizationId);

    /// <summary>A payee's part the provider did not pay out at capture: allocated to it, owed from EvCharge's own settlement.</summary>
    public static Journal Payable(string sessionId, SplitPart part, string paymentId) =>
        Two($"{sessionId}:payable:{part.PayeeAccount}", sessionId, JournalKind.Payable, Accounts.Payable(part.PayeeAccount), Accounts.Clearing(sessionId), part.Amount, paymentId);

    /// <summary>A refund's share taken back from what a payee is owed (its part was never paid out, or was paid out for good).</summary>
    public static Journal RefundFromPayable(string sessionId, string refundId, SplitPart part) =>
        Two($"{sessionId}:refund:{refundId}:{part.PayeeAccount}", sessionId, JournalKind.RefundReversal, Accounts.Clearing(sessionId), Accounts.Payable(part.PayeeAccount), part.Amount, refundId);

    public static Journal Hold(string sessionId, string walletKey, long amount, string authorizationId) =>
        Two($"{sessionId}:hold", sessionId, JournalKind.Hold, Accounts.Hold(sessionId), Accounts.Wallet(walletKey), amount, authorizationId);

    public static Journal Capture(string sessionId, long amount, string paymentId) =>
        Two($"{sessionId}:capture", sessionId, JournalKind.Capture, Accounts.Clearing(sessionId), Accounts.Hold(sessionId), amount, paymentId);

    public static Journal Release(string sessionId, string walletKey, long amount) =>
        Two($"{sessionId}:release", sessionId, JournalKind.Release, Accounts.Wallet(walletKey), Accounts.Hold(sessionId), amount, null);

    public static Journal Remit(string sessionId, SplitPart part, string paymentId) =>
        Two($"{sessionId}:remit:{part.PayeeAccount}", sessionId, JournalKind.Remit, Accounts.Payee(part.PayeeAccount), Accounts.Clearing(sessionId), part.Amount, paymentId);

    public static Journal Void(string sessionId, string walletKey, long amount, string? reason) =>
        Two($"{sessionId}:void", sessionId, JournalKind.Void, Accounts.Wallet(walletKey), Accounts.Hold(sessionId), amount, reason);

    public static Journal Expire(string sessionId, string walletKey, long amount) =>
        Two($"{sessionId}:expire", sessionId, JournalKind.Expire, Accounts.Wallet(walletKey), Accounts.Hold(sessionId), amount, null);

    public static Journal Debt(string sessionId, string walletKey, long amount, string? reason) =>
        Two($"{sessionId}:debt", sessionId, JournalKind.Debt, Accounts.Debt(sessionId), Accounts.Wallet(walletKey), amount, reason);

    public static Journal Refund(string sessionId, string refundId, string walletKey, long amount) =>
        Two($"{sessionId}:refund:{refundId}", sessionId, JournalKind.Refund, Accounts.Wallet(walletKey), Accounts.Clearing(sessionId), amount, refundId);

    public static Journal RefundReversal(string sessionId, string refundId, SplitPart part) =>
        Two($"{sessionId}:refund:{refundId}:{part.PayeeAccount}", sessionId, JournalKind.RefundReversal, Accounts.Clearing(sessionId), Accounts.Payee(part.PayeeAccount), part.Amount, refundId);

    private static Journal Two(string key, string sessionId, JournalKind kind, string debit, string credit, long amount, string? reference)
    {
        if (amount <= 0) throw new ArgumentOutOfRangeException(nameof(amount), $"Journal {key} needs a positive amount.");
        return new Journal(key, sessionId, kind, [new LedgerLine(debit, amount), new LedgerLine(credit, -amount)], reference);
    }
}
