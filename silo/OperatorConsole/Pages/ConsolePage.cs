using EvCharge.Charging;
using EvCharge.Silo.Security;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace EvCharge.Silo.OperatorConsole.Pages;

/// <summary>
/// What every console page shares: the caller's scope (operator: everything; CPO: its own), a one-shot notice
/// after a POST (redirect-after-post keeps a reload from repeating it), and a "not found" answer that renders in
/// the layout with status 404, used alike for unknown ids and other CPOs' ids so a CPO learns nothing about them.
/// </summary>
public abstract class ConsolePage : PageModel
{
    public CallerScope Scope => CallerScope.From(User);
    public bool IsOperator => Scope.IsOperator;
    public string? Missing { get; private set; }

    [TempData] public string? Notice { get; set; }
    [TempData] public string? NoticeKind { get; set; }

    protected IActionResult NotFoundPage(string what)
    {
        Missing = what;
        Response.StatusCode = StatusCodes.Status404NotFound;
        return Page();
    }

    protected void Tell(string message, bool ok = true)
    {
        Notice = message;
        NoticeKind = ok ? "ok" : "error";
    }

    /// <summary>The detail of a problem answer from the shared API logic, field errors included.</summary>
    protected static string Describe(Microsoft.AspNetCore.Http.HttpResults.ProblemHttpResult problem)
    {
        var p = problem.ProblemDetails;
        if (p is HttpValidationProblemDetails v && v.Errors.Count > 0)
            return string.Join("; ", v.Errors.Select(e => $"{e.Key} {string.Join(", ", e.Value)}"));
        return p.Detail ?? p.Title ?? "The request was refused.";
    }

    public static string StateClass(SessionState s) => s switch
    {
        SessionState.Settled => "ok",
        SessionState.Charging or SessionState.Authorized or SessionState.Authorizing or SessionState.Created => "live",
        SessionState.Stopped or SessionState.Settling or SessionState.Voiding => "busy",
        SessionState.NeedsAttention or SessionState.Debt => "bad",
        _ => "muted",
    };

    public static string StatusClass(FleetStatus s) => s switch
    {
        FleetStatus.Available => "ok",
        FleetStatus.Charging => "live",
        FleetStatus.Faulted => "bad",
        _ => "muted",
    };

    public static string ConnectorClass(ConnectorStatus s) => s switch
    {
        ConnectorStatus.Available => "ok",
        ConnectorStatus.Charging or ConnectorStatus.SuspendedEV or ConnectorStatus.SuspendedEVSE or ConnectorStatus.Preparing or ConnectorStatus.Finishing => "live",
        ConnectorStatus.Faulted => "bad",
        _ => "muted",
    };
}
