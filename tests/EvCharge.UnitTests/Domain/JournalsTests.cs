using EvCharge.Charging;
using EvCharge.Domain;
using EvCharge.Ledger;

namespace EvCharge.UnitTests.Domain;

public class JournalsTests
{
    [Fact]
    public void A_settled_session_leaves_hold_and_clearing_at_zero()
    {
        const string s = "EV1";
        var splits = SplitCalculator.Split(7_000, new Commission(1_500), "cpo-a", "platform");
        var journals = new List<Journal>
        {
            Journals.Hold(s, "kakaopay:w1", 10_000, "auth-1"),
            Journals.Capture(s, 7_000, "pay-1"),
            Journals.Release(s, "kakaopay:w1", 3_000),
        };
        journals.AddRange(splits.Select(p => Journals.Remit(s, p, "pay-1")));
        var balances = journals.SelectMany(j => j.Lines).GroupBy(l => l.Account).ToDictionary(g => g.Key, g => g.Sum(l => l.Amount));

        Assert.All(journals, j => Assert.Equal(0, j.Lines.Sum(l => l.Amount)));
        Assert.Equal(0, balances[Accounts.Hold(s)]);
        Assert.Equal(0, balances[Accounts.Clearing(s)]);
        Assert.Equal(-7_000, balances[Accounts.Wallet("kakaopay:w1")]);
        Assert.Equal(1_050, balances[Accounts.Payee("platform")]);
        Assert.Equal(5_950, balances[Accounts.Payee("cpo-a")]);
        Assert.Equal(journals.Count, journals.Select(j => j.Key).Distinct().Count());
    }

    [Fact]
    public void Zero_amount_journals_are_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Journals.Release("s", "w", 0));
    }
}
