using System.Security.Claims;
using EvCharge.Charging;
using EvCharge.Ledger;
using EvCharge.Sessions;
using EvCharge.Silo.Security;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace EvCharge.Silo.Apis;

public sealed record SessionListResponse(IReadOnlyList<SessionSummaryResponse> Items, string? NextCursor);

/// <summary>How the hold ended: captured (with the released rest), voided, expired, or still open.</summary>
public sealed record HoldSummary(long Authorized, long Captured, long Released, long Voided, long Expired, bool Open);

public sealed record SessionDetail(SessionResponse Session, HoldSummary Hold, IReadOnlyList<LedgerEntryResponse> Ledger);

public static class SessionsApi
{
    public static RouteGroupBuilder MapSessionsApi(this RouteGroupBuilder api)
    {
        var sessions = api.MapGroup("/sessions").WithTags("Sessions");
        sessions.MapGet("/", List).WithSummary("Sessions, newest first, with filters and cursor paging");
        sessions.MapGet("/attention", Attention).WithSummary("Sessions waiting for an operator (NeedsAttention) or ended in debt");
        sessions.MapGet("/{sessionId}", Detail).ProducesProblem(StatusCodes.Status404NotFound)
            .WithSummary("One session: meter timeline, fee, hold, capture, split, receipt, ledger entries");
        sessions.MapPost("/{sessionId}/resume", Resume).RequireAuthorization(EvChargePolicies.Operator).ProducesProblem(StatusCodes.Status404NotFound)
            .WithSummary("Finish whatever is in flight (capture, void, refund) after a provider outage");
        return api;
    }

    private static async Task<Results<Ok<SessionListResponse>, ProblemHttpResult>> List(
        ClaimsPrincipal user, ISessionIndex index,
        [FromQuery] string? cpoId, [FromQuery] string? chargerId, [FromQuery] string? state, [FromQuery] string? from,
        [FromQuery] string? to, [FromQuery] string? seamless, [FromQuery] string? limit, [FromQuery] string? cursor)
    {
        var e = new FieldErrors();
        var scope = CallerScope.From(user);
        if (cpoId is not null) e.Id("cpoId", cpoId);
        if (chargerId is not null) e.Id("chargerId", chargerId);
        SessionState? st = null;
        if (state is not null)
        {
            if (Enum.TryParse<SessionState>(state, true, out var s) && !int.TryParse(state, out _)) st = s;
            else e.Add("state", $"must be one of {string.Join(", ", Enum.GetNames<SessionState>())}");
        }
        var f = ParseTime(e, "from", from);
        var t = ParseTime(e, "to", to);
        if (f is not null && t is not null && f >= t) e.Add("to", "must be after from");
        bool? sl = null;
        if (seamless is not null) { if (bool.TryParse(seamless, out var b)) sl = b; else e.Add("seamless", "must be true or false"); }
        var n = 50;
        if (limit is not null && (!int.TryParse(limit, out n) || n < 1 || n > SessionQueryLimits.MaxLimit))
            e.Add("limit", $"must be an integer between 1 and {SessionQueryLimits.MaxLimit}");
        if (cursor is not null && !SessionCursor.TryDecode(cursor, out _, out _)) e.Add("cursor", "is not a cursor this service issued");
        if (e.Any) return e.ToResult();

        if (!scope.IsOperator)
        {
            if (cpoId is not null && cpoId != scope.CpoId) return ApiProblems.Forbidden("A CPO key sees only its own sessions.");
            cpoId = scope.CpoId;
        }
        var page = await index.QueryAsync(new SessionQuery(cpoId, chargerId, st, f, t, sl, n, cursor));
        return TypedResults.Ok(new SessionListResponse(page.Items.Select(s => Mask(s, scope).ToResponse()).ToList(), page.NextCursor));
    }

    private static async Task<Ok<List<SessionSummaryResponse>>> Attention(ClaimsPrincipal user, ISessionIndex index) =>
        TypedResults.Ok((await AttentionAsync(CallerScope.From(user), index)).Select(s => s.ToResponse()).ToList());

    /// <summary>NeedsAttention and Debt sessions the caller may see, newest first (the API and the console's queue).</summary>
    internal static async Task<List<SessionSummary>> AttentionAsync(CallerScope scope, ISessionIndex index, CancellationToken ct = default)
    {
        var items = new List<SessionSummary>();
        foreach (var state in new[] { SessionState.NeedsAttention, SessionState.Debt })
            items.AddRange((await index.QueryAsync(new SessionQuery(scope.IsOperator ? null : scope.CpoId, State: state, Limit: SessionQueryLimits.MaxLimit), ct)).Items);
        return items.OrderByDescending(s => s.CreatedAt).Select(s => Mask(s, scope)).ToList();
    }

    private static async Task<Results<Ok<SessionDetail>, ProblemHttpResult>> Detail(string sessionId, ClaimsPrincipal user, IGrainFactory grains, ILedger ledger)
    {
        var (view, problem) = await Visible(sessionId, user, grains);
        if (problem is not null) return problem;
        return TypedResults.Ok(await DetailAsync(view!, CallerScope.From(user), ledger));
    }

    /// <summary>The session with its hold summary and ledger lines, the wallet masked for a CPO (also the console's detail page).</summary>
    internal static async Task<SessionDetail> DetailAsync(SessionView view, CallerScope scope, ILedger ledger, CancellationToken ct = default)
    {
        var sessionId = view.SessionId;
        // A long charge that rolled over keeps each authorization in its own ledger scope ({session}-r{n}); the detail shows them all.
        var entries = new List<LedgerEntry>(await ledger.GetSessionEntriesAsync(sessionId, ct));
        foreach (var rolledOver in view.Payments.Select(p => p.OrderId).Where(o => o != sessionId))
            entries.AddRange(await ledger.GetSessionEntriesAsync(rolledOver, ct));
        long Sum(params JournalKind[] kinds) => entries.Where(x => kinds.Contains(x.Kind) && x.Amount > 0).Sum(x => x.Amount);
        var holdOpen = entries.Where(x => x.Account == Accounts.Hold(x.SessionId)).Sum(x => x.Amount) != 0;
        // A deposit (Toss Payments, KakaoPay) counts as authorized, its partial cancel as released.
        var hold = new HoldSummary(Sum(JournalKind.Hold, JournalKind.Deposit, JournalKind.HoldIncrement), Sum(JournalKind.Capture),
            Sum(JournalKind.Release, JournalKind.PartialCancel), Sum(JournalKind.Void), Sum(JournalKind.Expire), holdOpen);
        var shown = scope.IsOperator ? view : view with { WalletKey = MaskWallet(view.WalletKey) };
        return new SessionDetail(shown.ToResponse(), hold, entries.Select(x => x.ToResponse()).ToList());
    }

    private static async Task<Results<Ok<SessionResponse>, ProblemHttpResult>> Resume(string sessionId, ClaimsPrincipal user, IGrainFactory grains)
    {
        var (_, problem) = await Visible(sessionId, user, grains);
        if (problem is not null) return problem;
        return TypedResults.Ok((await grains.GetGrain<IChargingSessionGrain>(sessionId).Resume()).ToResponse());
    }

    /// <summary>404 for unknown sessions and for other CPOs' sessions alike.</summary>
    internal static async Task<(SessionView? View, ProblemHttpResult? Problem)> Visible(string sessionId, ClaimsPrincipal user, IGrainFactory grains)
    {
        if (!FieldErrors.IsId(sessionId)) return (null, ApiProblems.InvalidId("sessionId"));
        var view = await grains.GetGrain<IChargingSessionGrain>(sessionId).GetView();
        if (view.ChargerId is null || !CallerScope.From(user).CanSee(view.CpoId)) return (null, ApiProblems.NotFound($"No session {sessionId}."));
        return (view, null);
    }

    private static DateTimeOffset? ParseTime(FieldErrors e, string field, string? value)
    {
        if (value is null) return null;
        if (DateTimeOffset.TryParse(value, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.RoundtripKind, out var t)
            && (value.EndsWith('Z') || value.Contains('+') || value.LastIndexOf('-') > 9))
            return t;
        e.Add(field, "must be an ISO 8601 time with an offset, e.g. 2026-01-31T00:00:00+09:00");
        return null;
    }

    /// <summary>A CPO sees that a wallet paid, not which wallet: the provider reference stays with the operator.</summary>
    internal static SessionSummary Mask(SessionSummary s, CallerScope scope) => scope.IsOperator ? s : s with { WalletKey = MaskWallet(s.WalletKey) };

    private static string? MaskWallet(string? walletKey) =>
        walletKey is null ? null : walletKey.IndexOf(':') is var i and > 0 ? walletKey[..(i + 1)] + "****" : "****";
}
