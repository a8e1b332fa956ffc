using EvCharge.Charging;
using EvCharge.Sessions;
using EvCharge.Silo.Apis;
using Microsoft.AspNetCore.Mvc;

namespace EvCharge.Silo.OperatorConsole.Pages;

/// <summary>
/// Sessions, newest first, through the session index's query interface: filters, and keyset paging with its opaque
/// cursor ("older" follows the cursor; "newest" starts over). Day filters are KST calendar days, both inclusive.
/// </summary>
public sealed class SessionsModel(ISessionIndex index) : ConsolePage
{
    [BindProperty(SupportsGet = true)] public string? CpoId { get; set; }
    [BindProperty(SupportsGet = true)] public string? ChargerId { get; set; }
    [BindProperty(SupportsGet = true)] public string? State { get; set; }
    [BindProperty(SupportsGet = true)] public DateOnly? FromDay { get; set; }
    [BindProperty(SupportsGet = true)] public DateOnly? ToDay { get; set; }
    [BindProperty(SupportsGet = true)] public string? Seamless { get; set; }
    [BindProperty(SupportsGet = true)] public int Limit { get; set; } = 25;
    [BindProperty(SupportsGet = true)] public string? Cursor { get; set; }

    public IReadOnlyList<SessionSummary> Items { get; private set; } = [];
    public string? NextCursor { get; private set; }
    public List<string> Errors { get; } = [];

    public async Task OnGetAsync(CancellationToken ct)
    {
        if (!IsOperator) CpoId = Scope.CpoId; // a CPO's list is its own, whatever the query says
        if (string.IsNullOrWhiteSpace(CpoId)) CpoId = null;
        if (string.IsNullOrWhiteSpace(ChargerId)) ChargerId = null;
        if (CpoId is not null && !FieldErrors.IsId(CpoId)) Errors.Add("CPO is not a valid identifier.");
        if (ChargerId is not null && !FieldErrors.IsId(ChargerId)) Errors.Add("Charger is not a valid identifier.");
        SessionState? state = null;
        if (!string.IsNullOrEmpty(State))
        {
            if (Enum.TryParse<SessionState>(State, out var s) && !int.TryParse(State, out _)) state = s;
            else Errors.Add("Unknown state.");
        }
        bool? seamless = Seamless switch { "yes" => true, "no" => false, _ => null };
        Limit = Math.Clamp(Limit, 1, SessionQueryLimits.MaxLimit);
        DateTimeOffset? from = FromDay is { } f ? ConsoleFormat.DayRange(f).From : null;
        DateTimeOffset? to = ToDay is { } t ? ConsoleFormat.DayRange(t).To : null;
        if (from is not null && to is not null && from >= to) Errors.Add("The last day is before the first day.");
        if (Cursor is not null && !SessionCursor.TryDecode(Cursor, out _, out _)) Errors.Add("The paging cursor is not one this console issued; start from the newest.");
        if (Errors.Count > 0) return;

        var page = await index.QueryAsync(new SessionQuery(CpoId, ChargerId, state, from, to, seamless, Limit, Cursor), ct);
        Items = page.Items.Select(s => SessionsApi.Mask(s, Scope)).ToList();
        NextCursor = page.NextCursor;
    }

    /// <summary>The current filters as query values, for the paging links.</summary>
    public Dictionary<string, string> Filters(string? cursor)
    {
        var q = new Dictionary<string, string>();
        if (IsOperator && CpoId is not null) q["cpoId"] = CpoId;
        if (ChargerId is not null) q["chargerId"] = ChargerId;
        if (!string.IsNullOrEmpty(State)) q["state"] = State;
        if (FromDay is { } f) q["fromDay"] = f.ToString("yyyy-MM-dd");
        if (ToDay is { } t) q["toDay"] = t.ToString("yyyy-MM-dd");
        if (!string.IsNullOrEmpty(Seamless)) q["seamless"] = Seamless;
        q["limit"] = Limit.ToString();
        if (cursor is not null) q["cursor"] = cursor;
        return q;
    }
}
