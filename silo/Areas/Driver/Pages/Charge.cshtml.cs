using EvCharge.Charging;
using EvCharge.Driver;
using EvCharge.Silo.Driver;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace EvCharge.Silo.Areas.Driver.Pages;

/// <summary>
/// One charge at its capability link: approve in the wallet, wait for the charger, the live figures and a Stop button
/// while charging, then the final cost and the receipt. Reopening the link later shows the receipt again.
/// </summary>
public sealed class ChargeModel(IGrainFactory grains, DriverLinks links, TimeProvider clock) : PageModel
{
    public DriverText Text { get; private set; } = new("ko");
    public string SessionId { get; private set; } = "";
    public string Token { get; private set; } = "";
    public string PagePath { get; private set; } = "";
    public DriverChargeView Charge { get; private set; } = null!;
    public SessionView? Session { get; private set; }
    public ChargerView? Charger { get; private set; }
    public DriverLiveState Live { get; private set; } = null!;
    public bool AutoApprove { get; private set; }
    public bool StopSent { get; private set; }
    public string? Error { get; private set; }

    public string? ChargerId => Session?.ChargerId ?? Charge.ChargerId;
    public int ConnectorId => Session?.ConnectorId is > 0 and var c ? c : Charge.ConnectorId;

    public async Task<IActionResult> OnGetAsync(string sessionId, string token, [FromQuery] int go, [FromQuery] string? stop)
    {
        if (!await LoadAsync(sessionId, token)) return Missing();
        AutoApprove = go == 1 && Live.Phase == DriverPhase.Approval && Charge.ApprovalUrl is not null;
        StopSent = stop == "sent";
        if (stop == "late") Error = Text.T("충전이 이미 끝났습니다.", "Charging has already ended.");
        else if (stop == "failed") Error = Text.T("충전기에 연결할 수 없어 중지 요청을 보내지 못했습니다. 충전기의 중지 버튼을 눌러 주세요.",
            "The stop could not reach the charger. Please use the charger's own stop button.");
        return Page();
    }

    /// <summary>The Stop button: RemoteStopTransaction to the charger; the charger's StopTransaction ends and settles the charge.</summary>
    public async Task<IActionResult> OnPostStopAsync(string sessionId, string token)
    {
        if (!await LoadAsync(sessionId, token)) return Missing();
        var lang = "?lang=" + Text.Lang;
        if (Session is not { State: SessionState.Charging, TransactionId: { } tx, ChargerId: { } chargerId })
            return Redirect(PagePath + lang + "&stop=late");
        var sent = await grains.GetGrain<IChargerGrain>(chargerId).RemoteStop(tx, "driver_stop");
        return Redirect(PagePath + lang + (sent ? "&stop=sent" : "&stop=failed"));
    }

    /// <summary>A wrong or unknown link says only that: nothing tells whether the session exists.</summary>
    private ContentResult Missing() => new()
    {
        StatusCode = StatusCodes.Status404NotFound, ContentType = "text/html; charset=utf-8",
        Content = "<!doctype html><meta charset=utf-8><meta name=viewport content='width=device-width,initial-scale=1'><title>404</title>" +
                  $"<p style='font:18px system-ui;padding:24px'>{Text.T("찾을 수 없는 충전 내역입니다. 링크를 확인해 주세요.", "No such charge. Please check the link.")}</p>",
    };

    private async Task<bool> LoadAsync(string sessionId, string token)
    {
        Text = DriverText.For(Request);
        ViewData["Text"] = Text;
        ViewData["Title"] = Text.T("충전", "Charge");
        if (!await links.Verify(sessionId, token)) return false;
        SessionId = sessionId;
        Token = token;
        PagePath = await links.PathFor(sessionId);
        Charge = await grains.GetGrain<IDriverChargeGrain>(sessionId).GetView();
        Session = await grains.GetGrain<IChargingSessionGrain>(sessionId).GetView();
        if (Session.State == SessionState.Created) Session = null;
        if (Session is null && Charge.Stage == DriverChargeStage.None) return false;
        Live = DriverLiveState.From(Charge, Session, clock.GetUtcNow());
        if (ChargerId is { } id) Charger = await grains.GetGrain<IChargerGrain>(id).GetView();
        return true;
    }
}
