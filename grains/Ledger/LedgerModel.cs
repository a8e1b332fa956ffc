namespace EvCharge.Ledger;

/// <summary>
/// Double-entry ledger. A journal is a set of lines that sum to zero (debit positive, credit negative),
/// keyed so that posting the same journal twice is a no-op. Accounts (see <see cref="Accounts"/>):
/// <list type="bullet">
/// <item><c>wallet:{provider}:{ref}</c> the driver's wallet at the provider (credit = money taken from it)</item>
/// <item><c>hold:{session}</c> money reserved at the provider for a session; zero once the hold is resolved</item>
/// <item><c>clearing:{session}</c> captured money awaiting remittance; zero once every split is remitted</item>
/// <item><c>payee:{account}</c> what a payee (CPO, platform) received</item>
/// <item><c>debt:{session}</c> energy delivered that could not be captured: the driver owes it</item>
/// <item><c>payable:{account}</c> a payee's part the provider did not pay out: EvCharge owes it from its own settlement
/// (negative: the payee owes EvCharge, e.g. a refund after a payout that cannot be clawed back)</item>
/// </list>
/// A ledger "session" is one authorization: a charge whose hold rolled over to a new one (docs/payments.md) books the
/// n-th authorization under <c>{session}-r{n}</c>, the order id the provider knows it by.
/// </summary>
public static class Accounts
{
    public static string Wallet(string walletKey) => $"wallet:{walletKey}";
    public static string Hold(string sessionId) => $"hold:{sessionId}";
    public static string Clearing(string sessionId) => $"clearing:{sessionId}";
    public static string Payee(string payeeAccount) => $"payee:{payeeAccount}";
    public static string Debt(string sessionId) => $"debt:{sessionId}";
    public static string Payable(string payeeAccount) => $"payable:{payeeAccount}";
}

/// <summary>
/// What a journal records. <see cref="Deposit"/> and <see cref="PartialCancel"/> are a deposit provider's (Toss Payments,
/// KakaoPay) counterparts of <see cref="Hold"/> and <see cref="Release"/>: the money was charged at authorization and the
/// unused part cancelled at capture, not held and released. <see cref="HoldIncrement"/> raises an open hold (Stripe
/// incremental authorization). <see cref="Payable"/> allocates a payee's part that the provider did not pay out.
/// </summary>
public enum JournalKind { Hold, Capture, Release, Remit, Void, Expire, Refund, RefundReversal, Debt, Deposit, PartialCancel, HoldIncrement, Payable }

public sealed record LedgerLine(string Account, long Amount);

public sealed record Journal(string Key, string SessionId, JournalKind Kind, IReadOnlyList<LedgerLine> Lines, string? Reference = null)
{
    public long Total => Lines.Where(l => l.Amount > 0).Sum(l => l.Amount);
}

public sealed record LedgerEntry(
    string JournalKey, string SessionId, JournalKind Kind, string Account, long Amount, string? Reference, DateTimeOffset PostedAt);

/// <summary>A broken invariant, with the session it concerns.</summary>
public sealed record InvariantViolation(string Rule, string? SessionId, string Detail);

public sealed record InvariantReport(
    bool Balanced, long TotalDebits, long TotalCredits, int Journals, IReadOnlyList<InvariantViolation> Violations)
{
    public bool Ok => Balanced && Violations.Count == 0;
}

public sealed record PayeeBalance(string PayeeAccount, long Remitted, long Reversed, long Net, int Sessions);

/// <summary>Durable, append-only store for journals. Implementations: SQLite (embedded) and PostgreSQL (cluster).</summary>
public interface ILedger
{
    /// <summary>Posts the journal if its key is new; returns false if it was already posted (idempotent replay).</summary>
    Task<bool> PostAsync(Journal journal, CancellationToken ct = default);
    /// <summary>
    /// Posts several journals in one transaction (each still skipped if its key exists), so a reader never sees half
    /// of a step that moves money in several journals, such as a capture with its release and remittances.
    /// </summary>
    Task PostAllAsync(IReadOnlyList<Journal> journals, CancellationToken ct = default);
    Task<IReadOnlyList<LedgerEntry>> GetSessionEntriesAsync(string sessionId, CancellationToken ct = default);
    Task<IReadOnlyList<LedgerEntry>> GetAccountEntriesAsync(string account, DateTimeOffset? from = null, DateTimeOffset? to = null, CancellationToken ct = default);
    Task<PayeeBalance> GetPayeeBalanceAsync(string payeeAccount, CancellationToken ct = default);
    Task<InvariantReport> CheckInvariantsAsync(CancellationToken ct = default);
}
