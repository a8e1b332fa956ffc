using EvCharge.Charging;
using EvCharge.Sessions;
using static EvCharge.UnitTests.Sessions.SessionHarness;

namespace EvCharge.UnitTests.Sessions;

/// <summary>A remote start's own start deadline (shorter than the platform's) is what the sweeper and the due time use.</summary>
public sealed class RemoteStartDeadlineTests
{
    private static readonly TimeSpan Own = TimeSpan.FromSeconds(90);

    [Fact]
    public void A_session_with_its_own_start_deadline_is_due_and_voided_then_not_at_the_platforms()
    {
        var h = new SessionHarness();
        h.Run(new AuthorizeSession(Start() with { StartTimeout = Own }));
        Assert.Equal(T0 + Own, SessionProjection.DueAt(h.State, h.Now, Rules));

        h.Now += Own - TimeSpan.FromSeconds(1);
        h.Sweep();
        Assert.Equal(SessionState.Authorized, h.State.State); // not yet

        h.Now += TimeSpan.FromSeconds(1);
        h.Sweep();
        Assert.Equal(SessionState.Voided, h.State.State);
        Assert.Equal("start_timeout", h.State.Reason);
        Assert.True(Own < Rules.StartTimeout);
        h.AssertMoneyInvariants();
    }

    [Fact]
    public void Without_its_own_deadline_a_session_keeps_the_platforms()
    {
        var h = new SessionHarness();
        h.Run(new AuthorizeSession(Start()));
        Assert.Equal(Rules.StartTimeout, SessionDeadlines.StartTimeout(h.State, Rules));
        Assert.Equal(Rules.StartTimeout, SessionDeadlines.StartTimeout(h.State with { Start = h.State.Start! with { StartTimeout = TimeSpan.Zero } }, Rules));
    }

    [Fact]
    public void A_start_that_arrives_before_its_deadline_charges_as_usual()
    {
        var h = new SessionHarness();
        h.Run(new AuthorizeSession(Start() with { StartTimeout = Own }));
        h.Now += Own / 2;
        h.Run(new StartCharging(9, 1_000, h.Now));
        h.Now += Own * 2;
        h.Sweep();
        Assert.Equal(SessionState.Charging, h.State.State);
    }

    [Fact]
    public void A_cancel_with_the_remote_starts_reason_voids_the_hold_once_and_keeps_the_first_reason()
    {
        var h = new SessionHarness();
        h.Run(new AuthorizeSession(Start() with { StartTimeout = Own }));
        h.Run(new CancelSession("charger_refused"));
        h.Run(new CancelSession("start_timeout"));
        Assert.Equal(SessionState.Voided, h.State.State);
        Assert.Equal("charger_refused", h.State.Reason);
        Assert.Equal(1, h.Provider.Executions("void"));
        h.AssertMoneyInvariants();
    }
}
