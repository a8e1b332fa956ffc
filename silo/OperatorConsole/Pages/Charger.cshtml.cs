using EvCharge.Charging;
using EvCharge.Sessions;
using EvCharge.Silo.Apis;
using Microsoft.AspNetCore.Mvc;

namespace EvCharge.Silo.OperatorConsole.Pages;

/// <summary>A live transaction with the session behind it (for its meter chart).</summary>
public sealed record LiveCharge(LiveTransaction Transaction, SessionResponse Session);

public sealed record ChargerLiveModel(string ChargerId, bool CanStop, IReadOnlyList<LiveCharge> Charges);

/// <summary>
/// One charger: registration (editable by the operator), connectors, live transactions with their meter chart and a
/// remote stop, recent sessions, and OCPP messages for transaction ids the server never issued.
/// </summary>
public sealed class ChargerModel(IGrainFactory grains, ISessionIndex index) : ConsolePage
{
    public ChargerResponse Charger { get; private set; } = null!;
    public FleetStatus Status { get; private set; }
    public ChargerLiveModel Live { get; private set; } = null!;
    public IReadOnlyList<SessionSummary> Recent { get; private set; } = [];
    public IReadOnlyList<UnreconciledMessageResponse> Unreconciled { get; private set; } = [];
    public IReadOnlyList<string> Tariffs { get; private set; } = [];
    public string? FormError { get; private set; }
    [BindProperty] public RegistrationForm Form { get; set; } = new();

    public sealed class RegistrationForm
    {
        public string? CpoId { get; set; }
        public int? ConnectorCount { get; set; }
        public string? TariffId { get; set; }
        public long? HoldAmount { get; set; }
        public string? Model { get; set; }
        public string? Location { get; set; }
        public string? Password { get; set; }
    }

    public async Task<IActionResult> OnGetAsync(string chargerId, CancellationToken ct)
    {
        var (view, problem) = await ChargersApi.Visible(chargerId, User, grains);
        if (problem is not null) return NotFoundPage($"No charger {chargerId}.");
        await LoadAsync(view!, ct);
        var r = Charger;
        Form = new RegistrationForm { CpoId = r.CpoId, ConnectorCount = r.ConnectorCount, TariffId = r.TariffId, HoldAmount = r.HoldAmount, Model = r.Model, Location = r.Location };
        return Page();
    }

    /// <summary>The live-transactions fragment, refreshed by console.js while the page is open.</summary>
    public async Task<IActionResult> OnGetLiveAsync(string chargerId)
    {
        var (view, problem) = await ChargersApi.Visible(chargerId, User, grains);
        if (problem is not null) return NotFound();
        return Partial("_ChargerLive", await LiveAsync(view!));
    }

    public async Task<IActionResult> OnPostRemoteStopAsync(string chargerId, int transactionId)
    {
        if (!IsOperator) return Forbid(ConsoleAuth.Scheme);
        var (view, problem) = await ChargersApi.Visible(chargerId, User, grains);
        if (problem is not null) return NotFoundPage($"No charger {chargerId}.");
        var refused = await ChargersApi.SendRemoteStopAsync(view!, transactionId, "operator_console", grains);
        if (refused is null) Tell($"RemoteStopTransaction sent for transaction {transactionId}; the charger stops and the session settles.");
        else Tell(Describe(refused), ok: false);
        return RedirectToPage(new { chargerId });
    }

    public async Task<IActionResult> OnPostRegisterAsync(string chargerId, CancellationToken ct)
    {
        if (!IsOperator) return Forbid(ConsoleAuth.Scheme);
        var (_, created, problem) = await ChargersApi.RegisterAsync(chargerId, new ChargerBody(Form.CpoId, Form.ConnectorCount, Form.TariffId, Form.HoldAmount,
            string.IsNullOrEmpty(Form.Password) ? null : Form.Password, NullIfEmpty(Form.Model), NullIfEmpty(Form.Location)), grains);
        if (problem is null)
        {
            Tell(created ? $"Charger {chargerId} registered." : $"Registration of {chargerId} saved.");
            return RedirectToPage(new { chargerId });
        }
        var (view, missing) = await ChargersApi.Visible(chargerId, User, grains);
        if (missing is not null) return NotFoundPage($"No charger {chargerId}.");
        await LoadAsync(view!, ct);
        FormError = Describe(problem);
        Response.StatusCode = problem.StatusCode;
        return Page();
    }

    private async Task LoadAsync(ChargerView view, CancellationToken ct)
    {
        Charger = ChargersApi.ToResponse(view);
        Status = FleetCharger.Classify(view.Online, Charger.Connectors);
        Live = await LiveAsync(view);
        Recent = (await index.QueryAsync(new SessionQuery(ChargerId: view.ChargerId, Limit: 10), ct)).Items.Select(s => SessionsApi.Mask(s, Scope)).ToList();
        Unreconciled = (await grains.GetGrain<IChargerGrain>(view.ChargerId).GetUnreconciled()).Select(m => m.ToResponse()).ToList();
        Tariffs = (await grains.GetGrain<ICpoGrain>(Charger.CpoId).GetContract())?.Tariffs.Select(t => t.TariffId).ToList() ?? [];
    }

    private async Task<ChargerLiveModel> LiveAsync(ChargerView view)
    {
        var charges = new List<LiveCharge>();
        foreach (var t in await ChargersApi.LiveAsync(view, grains))
            charges.Add(new LiveCharge(t, (await grains.GetGrain<IChargingSessionGrain>(t.SessionId).GetView()).ToResponse()));
        return new ChargerLiveModel(view.ChargerId, IsOperator, charges);
    }

    private static string? NullIfEmpty(string? s) => string.IsNullOrWhiteSpace(s) ? null : s.Trim();
}
