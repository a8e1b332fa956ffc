using EvCharge.Charging;
using EvCharge.Domain;
using EvCharge.Driver;
using EvCharge.Payments;
using EvCharge.Silo.Driver;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.Extensions.Options;

namespace EvCharge.Silo.Areas.Driver.Pages;

/// <summary>
/// The page behind a connector's QR code: the charger, its location, whether the connector can be used, the tariff in
/// plain words and numbers, the hold; the driver picks a wallet and starts (a wallet checkout for the hold).
/// </summary>
public sealed class ConnectorModel(
    IGrainFactory grains, IPaymentGatewayRegistry gateways, IOptions<DriverOptions> driverOptions, IOptions<EvChargeOptions> options,
    DriverLinks links, TimeProvider clock) : PageModel
{
    public DriverText Text { get; private set; } = new("ko");
    public string ChargerId { get; private set; } = "";
    public int ConnectorId { get; private set; }
    public bool Missing { get; private set; }
    public ChargerView? Charger { get; private set; }
    public ConnectorView? Connector { get; private set; }
    public CpoContract? Contract { get; private set; }
    public Tariff? Tariff { get; private set; }
    public long Hold { get; private set; }
    public (string Text, string Css) Availability { get; private set; }
    public bool CanStart { get; private set; }
    public IReadOnlyList<string> Wallets { get; private set; } = [];
    public string? Error { get; private set; }
    public DateTimeOffset Now { get; private set; }

    public async Task<IActionResult> OnGetAsync(string chargerId, int connectorId)
    {
        await LoadAsync(chargerId, connectorId);
        if (Missing) Response.StatusCode = StatusCodes.Status404NotFound;
        return Page();
    }

    /// <summary>"Pay and start": opens the wallet checkout for the hold and sends the phone on to approve it.</summary>
    public async Task<IActionResult> OnPostAsync(string chargerId, int connectorId, [FromForm] string? provider)
    {
        await LoadAsync(chargerId, connectorId);
        if (Missing) return NotFound();
        if (provider is null || !Wallets.Contains(provider, StringComparer.OrdinalIgnoreCase))
        {
            Error = Text.T("결제 수단을 골라 주세요.", "Please pick a wallet.");
            return Page();
        }
        if (!CanStart)
        {
            Error = Text.Reason(Availability.Css == "busy" ? "connector_busy" : Charger!.Online ? "connector_unavailable" : "charger_offline");
            return Page();
        }
        var sessionId = DriverExtensions.NewSessionId();
        var page = await links.PathFor(sessionId);
        var root = driverOptions.Value.PublicBaseUrl ?? new Uri($"{Request.Scheme}://{Request.Host}");
        var lang = "?lang=" + Text.Lang;
        var view = await grains.GetGrain<IDriverChargeGrain>(sessionId).BeginCheckout(new DriverCheckoutRequest(
            ChargerId, ConnectorId, provider.ToLowerInvariant(), new Uri(root, page + "/approved" + lang), new Uri(root, page + "/cancelled" + lang), null));
        if (view.Stage != DriverChargeStage.AwaitingApproval)
        {
            Error = Text.Reason(view.Reason);
            await LoadAsync(chargerId, connectorId);
            return Page();
        }
        // On to the session's own page, which hands the phone to the wallet (a page of ours first: its link is the receipt link).
        return Redirect(page + lang + "&go=1");
    }

    private async Task LoadAsync(string chargerId, int connectorId)
    {
        Text = DriverText.For(Request);
        ViewData["Text"] = Text;
        ViewData["Title"] = Text.T("충전하기", "Charge");
        Now = clock.GetUtcNow();
        ChargerId = chargerId;
        ConnectorId = connectorId;
        if (!EvCharge.ChargerBridge.Mqtt.ChargerTopics.IsValidChargerId(chargerId)) { Missing = true; return; }
        Charger = await grains.GetGrain<IChargerGrain>(chargerId).GetView();
        Connector = Charger.Connectors.FirstOrDefault(c => c.ConnectorId == connectorId);
        if (Charger.Registration is not { } registration || Connector is null) { Missing = true; return; }
        Contract = await grains.GetGrain<ICpoGrain>(registration.CpoId).GetContract();
        Tariff = Contract?.Tariffs.FirstOrDefault(t => t.TariffId == registration.TariffId);
        Hold = HoldPolicy.Resolve(registration.HoldAmount, null, options.Value.DefaultHoldAmount);
        Availability = Text.Availability(Connector, Charger.Online);
        Wallets = driverOptions.Value.Wallets
            .Where(w => gateways.TryGet(w, out var gateway) && gateway is ICheckoutApproval)
            .ToList();
        CanStart = Availability.Css == "ok" && Tariff is not null && Wallets.Count > 0;
    }
}
