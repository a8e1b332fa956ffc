using EvCharge.Charging;
using EvCharge.Sessions;
using EvCharge.Silo.Apis;
using Microsoft.AspNetCore.Mvc;

namespace EvCharge.Silo.OperatorConsole.Pages;

/// <summary>Sessions waiting for an operator (NeedsAttention) or ended in debt; the operator resumes them here.</summary>
public sealed class AttentionModel(ISessionIndex index, IGrainFactory grains) : ConsolePage
{
    public IReadOnlyList<SessionSummary> Items { get; private set; } = [];

    public async Task OnGetAsync(CancellationToken ct) => Items = await SessionsApi.AttentionAsync(Scope, index, ct);

    public async Task<IActionResult> OnPostResumeAsync(string sessionId)
    {
        if (!IsOperator) return Forbid(ConsoleAuth.Scheme);
        var (_, problem) = await SessionsApi.Visible(sessionId, User, grains);
        if (problem is not null) return NotFoundPage($"No session {sessionId}.");
        var view = await grains.GetGrain<IChargingSessionGrain>(sessionId).Resume();
        Tell($"Session {sessionId} resumed: now {view.State}.", view.State is not (SessionState.NeedsAttention or SessionState.Debt));
        return RedirectToPage();
    }
}
