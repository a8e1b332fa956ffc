using EvCharge.Charging;
using EvCharge.Payments;

namespace EvCharge.Sessions;

/// <summary>
/// The gateway entry a session pays through (<c>Payments:Providers</c> name, after the CPO's route) and what that
/// provider can do, fixed when the session is created so that a configuration change never alters a charge in flight.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record PaymentRoute(
    [property: Id(0)] string Gateway,
    [property: Id(1)] FundsModel Funds,
    [property: Id(2)] PayeeSettlement Payees,
    [property: Id(3)] bool IncrementalAuthorization)
{
    public static PaymentRoute For(string gateway, ProviderCapabilities c) => new(gateway, c.Funds, c.Payees, c.IncrementalAuthorization);
}

[GenerateSerializer]
public enum HoldExtensionKind
{
    /// <summary>Raise the open hold to <see cref="HoldExtension.Amount"/> (key <c>{session}:increment:{n}</c>).</summary>
    Increment = 0,
    /// <summary>Authorize again with the saved credential (order <c>{session}-r{n}</c>, key <c>{session}:authorize:{n}</c>).</summary>
    Reauthorize = 1,
    /// <summary>The new authorization stands; capture what is due on the previous one (<c>{session}:capture:{n}</c>, or void it).</summary>
    ClosePrevious = 2,
}

/// <summary>
/// A long charge's hold extension in flight (docs/payments.md, "Long charges"): an intent written before its provider
/// call like every other, finished (or given up) before the session settles.
/// </summary>
/// <param name="Number">n of the keys: increments and rollovers are numbered per session and a number is never reused.</param>
/// <param name="Amount">Increment: the new total of the hold. Reauthorize: the new hold.</param>
/// <param name="Trigger"><c>hold_reached</c> (the running cost nears the hold) or <c>hold_expiring</c>.</param>
/// <param name="Unanswered">The last call got no answer: a rollover's authorization is resolved before anything else.</param>
/// <param name="Previous">ClosePrevious: the authorization being closed, with its capture plan.</param>
[GenerateSerializer, Immutable]
public sealed record HoldExtension(
    [property: Id(0)] HoldExtensionKind Kind,
    [property: Id(1)] int Number,
    [property: Id(2)] long Amount,
    [property: Id(3)] string Trigger,
    [property: Id(4)] bool Unanswered = false,
    [property: Id(5)] PaymentPart? Previous = null);

/// <summary>
/// An earlier authorization of a session that rolled over: its capture plan (amount due on it, splits, receipt, the
/// stretch of the charge it paid for) and what became of it.
/// </summary>
/// <param name="Number">0 for the session's first authorization, n for the one ordered as <c>{session}-r{n}</c>.</param>
/// <param name="Planned">What was due on it when the next authorization took over (0: it is voided).</param>
/// <param name="Status"><c>closing</c>, <c>captured</c>, <c>voided</c> or <c>expired</c> (then what was due is captured from the next).</param>
[GenerateSerializer, Immutable]
public sealed record PaymentPart(
    [property: Id(0)] int Number,
    [property: Id(1)] string AuthorizationId,
    [property: Id(2)] long Authorized,
    [property: Id(3)] long Planned,
    [property: Id(4)] IReadOnlyList<SplitPart> Splits,
    [property: Id(5)] ReceiptLines Receipt,
    [property: Id(6)] long EnergyWh,
    [property: Id(7)] DateTimeOffset From,
    [property: Id(8)] DateTimeOffset To,
    [property: Id(9)] long Captured,
    [property: Id(10)] string? PaymentId,
    [property: Id(11)] IReadOnlyList<SplitPart> Owed,
    [property: Id(12)] string Status);
