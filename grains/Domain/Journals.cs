using EvCharge.Charging;
using EvCharge.Ledger;

namespace EvCharge.Domain;

/// <summary>
/// The journals a session posts, as pure functions. Keys are derived from the session (and payee or
/// refund id) so a replayed step posts nothing twice.
/// </summary>
public static class Journals
{
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
