using EvCharge.Ledger;
using EvCharge.Payments;
using EvCharge.Reconciliation;

namespace EvCharge.UnitTests.Faults;

/// <summary>Issue 6: how one session's ledger is judged against the provider's record of its authorization.</summary>
public class ReconciliationCompareTests
{
    private const string S = "EVSESSION1";
    private const string Auth = "az_1";

    private static LedgerSession Ledger(params (JournalKind Kind, string Account, long Amount, string? Reference)[] lines) =>
        LedgerSession.From(lines.Select(l => new LedgerLineRow($"{S}:{l.Kind}", S, l.Kind, l.Reference, l.Account, l.Amount)).GroupBy(r => r.SessionId).Single());

    private static readonly (JournalKind, string, long, string?)[] Hold =
        [(JournalKind.Hold, $"hold:{S}", 30_000, Auth), (JournalKind.Hold, "wallet:kakaopay:w_1", -30_000, Auth)];

    private static (JournalKind, string, long, string?)[] Captured(long amount, long cpo, long platform) =>
    [
        .. Hold,
        (JournalKind.Capture, $"clearing:{S}", amount, "pay_1"), (JournalKind.Capture, $"hold:{S}", -amount, "pay_1"),
        (JournalKind.Remit, "payee:cpo", cpo, "pay_1"), (JournalKind.Remit, $"clearing:{S}", -cpo, "pay_1"),
        (JournalKind.Remit, "payee:platform", platform, "pay_1"), (JournalKind.Remit, $"clearing:{S}", -platform, "pay_1"),
    ];

    private static ProviderAuthorization Provider(ProviderAuthorizationStatus status, long captured = 0, params Remittance[] remittances) =>
        new(Auth, S, "w_1", 30_000, status, captured, 0, captured > 0 ? "pay_1" : null, remittances);

    [Fact]
    public void Matching_capture_with_its_splits_is_clean()
    {
        var findings = ReconciliationService.Compare(Ledger(Captured(3_000, 2_700, 300)),
            Provider(ProviderAuthorizationStatus.Captured, 3_000, new("cpo", 2_700), new("platform", 300)));
        Assert.Empty(findings);
    }

    [Fact]
    public void Open_hold_still_authorized_is_not_a_difference_but_captured_at_the_provider_is_extra()
    {
        Assert.Empty(ReconciliationService.Compare(Ledger(Hold), Provider(ProviderAuthorizationStatus.Authorized)));
        var extra = Assert.Single(ReconciliationService.Compare(Ledger(Hold), Provider(ProviderAuthorizationStatus.Captured, 3_000, new Remittance("cpo", 3_000))));
        Assert.Equal(ReconciliationKind.Extra, extra.Kind);
        Assert.Equal("capture", extra.Field);
    }

    [Fact]
    public void Voided_in_the_ledger_but_still_held_at_the_provider_is_missing()
    {
        var voided = Ledger([.. Hold, (JournalKind.Void, "wallet:kakaopay:w_1", 30_000, null), (JournalKind.Void, $"hold:{S}", -30_000, null)]);
        var finding = Assert.Single(ReconciliationService.Compare(voided, Provider(ProviderAuthorizationStatus.Authorized)));
        Assert.Equal(ReconciliationKind.Missing, finding.Kind);
        Assert.Empty(ReconciliationService.Compare(voided, Provider(ProviderAuthorizationStatus.Expired)));
    }

    [Fact]
    public void A_deposit_with_owed_payees_and_a_raised_hold_are_compared_by_what_they_hold_and_remit()
    {
        // Issue 16: a KakaoPay deposit of 30,000 captured at 3,000, both payees owed from the ledger (no remittances).
        var deposit = Ledger(
            (JournalKind.Deposit, $"hold:{S}", 30_000, Auth), (JournalKind.Deposit, "wallet:kakaopay:w_1", -30_000, Auth),
            (JournalKind.Capture, $"clearing:{S}", 3_000, "pay_1"), (JournalKind.Capture, $"hold:{S}", -3_000, "pay_1"),
            (JournalKind.PartialCancel, "wallet:kakaopay:w_1", 27_000, null), (JournalKind.PartialCancel, $"hold:{S}", -27_000, null),
            (JournalKind.Payable, "payable:cpo", 2_700, "pay_1"), (JournalKind.Payable, $"clearing:{S}", -2_700, "pay_1"),
            (JournalKind.Payable, "payable:platform", 300, "pay_1"), (JournalKind.Payable, $"clearing:{S}", -300, "pay_1"));
        Assert.Equal(("kakaopay", Auth, 30_000L), (deposit.Provider, deposit.AuthorizationId, deposit.Held));
        Assert.Empty(ReconciliationService.Compare(deposit, Provider(ProviderAuthorizationStatus.Captured, 3_000)));

        // A Stripe hold of 30,000 raised to 40,000: the provider's amount is the raised total.
        var raised = Ledger([.. Hold, (JournalKind.HoldIncrement, $"hold:{S}", 10_000, Auth), (JournalKind.HoldIncrement, "wallet:kakaopay:w_1", -10_000, Auth)]);
        Assert.Empty(ReconciliationService.Compare(raised, Provider(ProviderAuthorizationStatus.Authorized) with { Amount = 40_000 }));
        Assert.Equal("hold", Assert.Single(ReconciliationService.Compare(raised, Provider(ProviderAuthorizationStatus.Authorized))).Field);
    }

    [Fact]
    public void Different_split_or_amount_is_mismatched_and_unknown_authorization_is_missing()
    {
        var findings = ReconciliationService.Compare(Ledger(Captured(3_000, 2_700, 300)),
            Provider(ProviderAuthorizationStatus.Captured, 3_000, new("cpo", 2_600), new("platform", 400))).ToList();
        Assert.Equal(2, findings.Count);
        Assert.All(findings, f => Assert.Equal(ReconciliationKind.Mismatched, f.Kind));
        Assert.Equal(ReconciliationKind.Missing, Assert.Single(ReconciliationService.Compare(Ledger(Hold), null)).Kind);
    }
}
