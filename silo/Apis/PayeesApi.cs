using System.Globalization;
using System.Security.Claims;
using EvCharge.Charging;
using EvCharge.Ledger;
using EvCharge.Silo.Security;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace EvCharge.Silo.Apis;

public sealed record RemittanceLine(string SessionId, JournalKind Kind, long Amount, string? Reference, DateTimeOffset PostedAt);

public sealed record RemittancesResponse(string PayeeAccount, DateTimeOffset? From, DateTimeOffset? To, long Remitted, long Reversed, long Net,
    IReadOnlyList<RemittanceLine> Lines, PayeeBalanceResponse AllTime);

/// <summary>One payee's settlement for one Korean calendar day (00:00-24:00 KST), from the ledger.</summary>
public sealed record SettlementStatement(string PayeeAccount, DateOnly Date, string TimeZone, DateTimeOffset From, DateTimeOffset To,
    long Remitted, long Reversed, long Net, int Sessions, IReadOnlyList<RemittanceLine> Lines);

/// <summary>What each payee (CPO settlement account, the platform) was remitted, from the ledger.</summary>
public static class PayeesApi
{
    public static RouteGroupBuilder MapPayeesApi(this RouteGroupBuilder api)
    {
        var payees = api.MapGroup("/payees/{payeeAccount}").WithTags("Payees");
        payees.MapGet("/remittances", Remittances).ProducesProblem(StatusCodes.Status403Forbidden).WithSummary("Remittances and reversals in a time window (ledger)");
        payees.MapGet("/statements/{date}", Statement).ProducesProblem(StatusCodes.Status403Forbidden).WithSummary("Daily settlement statement for a KST day (yyyy-MM-dd)");
        return api;
    }

    private static async Task<Results<Ok<RemittancesResponse>, ProblemHttpResult>> Remittances(string payeeAccount, [FromQuery] string? from, [FromQuery] string? to,
        ClaimsPrincipal user, IGrainFactory grains, ILedger ledger, IOptions<EvChargeOptions> options)
    {
        var e = new FieldErrors();
        e.Id("payeeAccount", payeeAccount);
        var f = Time(e, "from", from);
        var t = Time(e, "to", to);
        if (f is not null && t is not null && f >= t) e.Add("to", "must be after from");
        if (e.Any) return e.ToResult();
        if (await Denied(payeeAccount, user, grains, options.Value) is { } denied) return denied;
        return TypedResults.Ok(await RemittancesAsync(ledger, payeeAccount, f, t));
    }

    internal static async Task<RemittancesResponse> RemittancesAsync(ILedger ledger, string payeeAccount, DateTimeOffset? from, DateTimeOffset? to)
    {
        var lines = await Lines(ledger, payeeAccount, from, to);
        return new RemittancesResponse(payeeAccount, from, to, Remitted(lines), Reversed(lines), lines.Sum(l => l.Amount), lines,
            (await ledger.GetPayeeBalanceAsync(payeeAccount)).ToResponse());
    }

    private static async Task<Results<Ok<SettlementStatement>, ProblemHttpResult>> Statement(string payeeAccount, string date, ClaimsPrincipal user,
        IGrainFactory grains, ILedger ledger, IOptions<EvChargeOptions> options)
    {
        var e = new FieldErrors();
        e.Id("payeeAccount", payeeAccount);
        if (!DateOnly.TryParseExact(date, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var day)) e.Add("date", "must be a date yyyy-MM-dd");
        if (e.Any) return e.ToResult();
        if (await Denied(payeeAccount, user, grains, options.Value) is { } denied) return denied;
        return TypedResults.Ok(await StatementAsync(ledger, payeeAccount, day));
    }

    /// <summary>One KST day's remittance lines for a payee (the API's statement and the console's page and CSV).</summary>
    internal static async Task<SettlementStatement> StatementAsync(ILedger ledger, string payeeAccount, DateOnly day)
    {
        var (from, to) = Kst.Day(day);
        var lines = await Lines(ledger, payeeAccount, from, to);
        return new SettlementStatement(payeeAccount, day, "Asia/Seoul (+09:00)", from, to, Remitted(lines), Reversed(lines),
            lines.Sum(l => l.Amount), lines.Select(l => l.SessionId).Distinct().Count(), lines);
    }

    private static async Task<List<RemittanceLine>> Lines(ILedger ledger, string payee, DateTimeOffset? from, DateTimeOffset? to) =>
        (await ledger.GetAccountEntriesAsync(Accounts.Payee(payee), from, to))
            .Select(x => new RemittanceLine(x.SessionId, x.Kind, x.Amount, x.Reference, x.PostedAt.ToOffset(Kst.Offset))).ToList();

    private static long Remitted(List<RemittanceLine> lines) => lines.Where(l => l.Amount > 0).Sum(l => l.Amount);
    private static long Reversed(List<RemittanceLine> lines) => -lines.Where(l => l.Amount < 0).Sum(l => l.Amount);

    /// <summary>A CPO key sees only its contract's payee account; the platform's account is the operator's.</summary>
    internal static async Task<ProblemHttpResult?> Denied(string payee, ClaimsPrincipal user, IGrainFactory grains, EvChargeOptions options)
    {
        var scope = CallerScope.From(user);
        if (scope.IsOperator) return null;
        var contract = await grains.GetGrain<ICpoGrain>(scope.CpoId!).GetContract();
        return contract?.PayeeAccount == payee && payee != options.PlatformPayeeAccount
            ? null
            : ApiProblems.Forbidden("A CPO key sees only its own payee account.");
    }

    private static DateTimeOffset? Time(FieldErrors e, string field, string? value)
    {
        if (value is null) return null;
        if (DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t)) return t;
        e.Add(field, "must be an ISO 8601 time, e.g. 2026-01-31T00:00:00+09:00");
        return null;
    }
}
