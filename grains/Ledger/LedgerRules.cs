namespace EvCharge.Ledger;

/// <summary>
/// What both stores agree on: which journals are acceptable, the SQL that aggregates the ledger per session,
/// and how those aggregates are judged.
/// </summary>
/// <remarks>
/// Journal conventions (debit +, credit −; H = hold, F = final fee, a = a payee's split, r = a refund):
/// <code>
/// Hold            +H hold:{s}       −H wallet:{w}
/// Deposit         +H hold:{s}       −H wallet:{w}       (a deposit provider charged H at authorization)
/// HoldIncrement   +Δ hold:{s}       −Δ wallet:{w}       (an open hold raised by Δ)
/// Capture         +F clearing:{s}   −F hold:{s}
/// Release         +(H−F) wallet:{w} −(H−F) hold:{s}      (omitted when F = H)
/// PartialCancel   +(H−F) wallet:{w} −(H−F) hold:{s}      (a deposit's unused part cancelled; omitted when F = H)
/// Remit (per payee) +a payee:{p}    −a clearing:{s}
/// Payable (per payee) +a payable:{p} −a clearing:{s}    (the provider did not pay p: owed from the ledger)
/// Void / Expire   +H wallet:{w}     −H hold:{s}
/// Refund          +r wallet:{w}     −r clearing:{s}
/// RefundReversal  +a clearing:{s}   −a payee:{p}  or  −a payable:{p}
/// Debt            +F debt:{s}       −F wallet:{w}
/// </code>
/// The invariant check relies on these: "authorized" is what Hold, Deposit and HoldIncrement journals put on hold:{s},
/// "captured" is what Capture journals put on clearing:{s}, "remitted"/"refunded" are what Remit and Payable / Refund
/// journals take off it. A session here is one authorization's scope (<c>{session}</c>, or <c>{session}-r{n}</c> for
/// the n-th authorization of a charge that rolled over), so each rule below holds per authorization.
/// </remarks>
internal static class LedgerRules
{
    public static void Validate(Journal journal)
    {
        ArgumentNullException.ThrowIfNull(journal);
        if (string.IsNullOrWhiteSpace(journal.Key)) throw new ArgumentException("A journal needs a key.", nameof(journal));
        if (string.IsNullOrWhiteSpace(journal.SessionId)) throw new ArgumentException($"Journal {journal.Key} has no session id.", nameof(journal));
        if (!Enum.IsDefined(journal.Kind)) throw new ArgumentException($"Journal {journal.Key} has an unknown kind {journal.Kind}.", nameof(journal));
        if (journal.Lines is null || journal.Lines.Count == 0) throw new ArgumentException($"Journal {journal.Key} has no lines.", nameof(journal));
        long sum = 0;
        foreach (var line in journal.Lines)
        {
            if (line is null || string.IsNullOrWhiteSpace(line.Account))
                throw new ArgumentException($"Journal {journal.Key} has a line without an account.", nameof(journal));
            sum = checked(sum + line.Amount);
        }
        if (sum != 0) throw new ArgumentException($"Journal {journal.Key} is unbalanced: its lines sum to {sum}, not 0.", nameof(journal));
    }

    /// <summary>Payee balances may be asked for by bare account id or by ledger account name.</summary>
    public static string PayeeAccountName(string payeeAccount) =>
        payeeAccount.StartsWith("payee:", StringComparison.Ordinal) ? payeeAccount : Accounts.Payee(payeeAccount);

    // The same SQL runs on PostgreSQL and SQLite (CASE, ||, GROUP BY, LEFT JOIN only).
    public const string TotalsSql = """
        SELECT COALESCE(SUM(CASE WHEN amount > 0 THEN amount ELSE 0 END), 0) AS debits,
               COALESCE(SUM(CASE WHEN amount < 0 THEN -amount ELSE 0 END), 0) AS credits,
               (SELECT COUNT(*) FROM ledger_journals) AS journals
        FROM ledger_lines
        """;

    public const string UnbalancedJournalsSql = """
        SELECT l.journal_key, MIN(l.session_id) AS session_id, SUM(l.amount) AS total
        FROM ledger_lines l
        GROUP BY l.journal_key
        HAVING SUM(l.amount) <> 0
        UNION ALL
        SELECT j.journal_key, j.session_id, 0 AS total
        FROM ledger_journals j
        WHERE NOT EXISTS (SELECT 1 FROM ledger_lines l WHERE l.journal_key = j.journal_key)
        """;

    /// <summary>
    /// One row per session: how many journals of each kind, and the amounts the rules compare. Only sessions
    /// for which something could be wrong are returned (a session with a single Hold and nothing else is fine).
    /// </summary>
    public const string SessionAggregatesSql = """
        WITH jc AS (
            SELECT session_id,
                   SUM(CASE WHEN kind IN ('Hold', 'Deposit') THEN 1 ELSE 0 END)            AS holds,
                   SUM(CASE WHEN kind = 'Capture' THEN 1 ELSE 0 END)                       AS captures,
                   SUM(CASE WHEN kind IN ('Void', 'Expire') THEN 1 ELSE 0 END)             AS voids,
                   SUM(CASE WHEN kind IN ('Release', 'PartialCancel') THEN 1 ELSE 0 END)   AS releases,
                   SUM(CASE WHEN kind IN ('Remit', 'Payable') THEN 1 ELSE 0 END)           AS remits,
                   SUM(CASE WHEN kind = 'Debt' THEN 1 ELSE 0 END)                          AS debts
            FROM ledger_journals
            GROUP BY session_id
        ),
        la AS (
            SELECT l.session_id,
                   SUM(CASE WHEN j.kind IN ('Hold', 'Deposit', 'HoldIncrement') AND l.account = 'hold:' || l.session_id THEN l.amount ELSE 0 END) AS authorized,
                   SUM(CASE WHEN j.kind = 'Capture' AND l.account = 'clearing:' || l.session_id THEN l.amount  ELSE 0 END) AS captured,
                   SUM(CASE WHEN j.kind IN ('Remit', 'Payable') AND l.account = 'clearing:' || l.session_id THEN -l.amount ELSE 0 END) AS remitted,
                   SUM(CASE WHEN j.kind = 'Refund'  AND l.account = 'clearing:' || l.session_id THEN -l.amount ELSE 0 END) AS refunded,
                   SUM(CASE WHEN l.account = 'hold:' || l.session_id     THEN l.amount ELSE 0 END) AS hold_balance,
                   SUM(CASE WHEN l.account = 'clearing:' || l.session_id THEN l.amount ELSE 0 END) AS clearing_balance
            FROM ledger_lines l
            JOIN ledger_journals j ON j.journal_key = l.journal_key
            GROUP BY l.session_id
        )
        SELECT jc.session_id, jc.holds, jc.captures, jc.voids, jc.releases, jc.remits, jc.debts,
               COALESCE(la.authorized, 0), COALESCE(la.captured, 0), COALESCE(la.remitted, 0),
               COALESCE(la.refunded, 0), COALESCE(la.hold_balance, 0), COALESCE(la.clearing_balance, 0)
        FROM jc
        LEFT JOIN la ON la.session_id = jc.session_id
        WHERE NOT (jc.holds = 1 AND jc.captures = 0 AND jc.voids = 0 AND jc.releases = 0 AND jc.remits = 0 AND jc.debts = 0)
        ORDER BY jc.session_id
        """;

    public sealed record SessionAggregate(
        string SessionId, long Holds, long Captures, long Voids, long Releases, long Remits, long Debts,
        long Authorized, long Captured, long Remitted, long Refunded, long HoldBalance, long ClearingBalance);

    // Convert rather than GetInt64: PostgreSQL's SUM(bigint) is numeric, SQLite's is integer.
    public static SessionAggregate ReadAggregate(System.Data.Common.DbDataReader r)
    {
        long L(int i) => Convert.ToInt64(r.GetValue(i));
        return new(r.GetString(0), L(1), L(2), L(3), L(4), L(5), L(6), L(7), L(8), L(9), L(10), L(11), L(12));
    }

    /// <summary>The money rules of design §6 applied to one session's aggregates.</summary>
    public static IEnumerable<InvariantViolation> Judge(SessionAggregate s)
    {
        var id = s.SessionId;
        if (s.Holds > 1)
            yield return new("hold-once", id, $"{s.Holds} Hold/Deposit journals; an authorization is booked once (a rolled-over charge books the next under {id}-r{{n}})");
        if (s.Captures + s.Voids > 1)
            yield return new("hold-resolved-once", id, $"hold resolved {s.Captures + s.Voids} times ({s.Captures} capture, {s.Voids} void/expire)");
        if (s.Holds == 0 && s.Captures + s.Voids + s.Releases > 0 || s.Holds == 0 && s.Authorized > 0)
            yield return new("resolution-without-hold", id, "capture, release, void, expire or increment posted without a Hold or Deposit");
        if (s.Releases > 0 && s.Captures == 0)
            yield return new("release-without-capture", id, "Release posted without a Capture");
        if (s.Releases > 1)
            yield return new("release-once", id, $"{s.Releases} Release journals");
        if (s.HoldBalance < 0)
            yield return new("hold-overdrawn", id, $"hold:{id} balance is {s.HoldBalance}");
        var fullyCaptured = s.Captures > 0 && (s.Releases > 0 || s.Captured == s.Authorized);
        if ((s.Voids > 0 || fullyCaptured) && s.HoldBalance != 0)
            yield return new("hold-zero-after-resolution", id, $"hold:{id} balance is {s.HoldBalance} after the hold was resolved");
        if (s.Captured > s.Authorized)
            yield return new("captured-le-authorized", id, $"captured {s.Captured} > authorized {s.Authorized}");
        if (s.Remits > 0 && s.Remitted != s.Captured)
            yield return new("splits-sum-to-capture", id, $"remitted or owed {s.Remitted} != captured {s.Captured}");
        if (s.Remits > 0 && s.ClearingBalance != 0)
            yield return new("clearing-zero-after-remit", id, $"clearing:{id} balance is {s.ClearingBalance} after remittance");
        if (s.Remits > 0 && s.Captures == 0)
            yield return new("remit-without-capture", id, "Remit or Payable posted without a Capture");
        if (s.Refunded > s.Captured)
            yield return new("refunds-le-captured", id, $"refunded {s.Refunded} > captured {s.Captured}");
        if (s.Debts > 1)
            yield return new("debt-once", id, $"{s.Debts} Debt journals");
        if (s.Debts > 0 && s.Captures > 0)
            yield return new("capture-or-debt", id, "a session ends as one capture or one debt, not both");
    }
}
