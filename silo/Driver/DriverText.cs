using EvCharge.Charging;
using EvCharge.Domain;

namespace EvCharge.Silo.Driver;

/// <summary>
/// The driver's page in Korean and English. The language comes from <c>?lang=ko|en</c> when given (the page's switch),
/// else from the phone's Accept-Language; Korean is the default for anything else, as the chargers are in Korea.
/// </summary>
public sealed class DriverText(string lang)
{
    public string Lang { get; } = lang;
    public bool Ko => Lang == "ko";
    public string Other => Ko ? "en" : "ko";
    public string OtherName => Ko ? "English" : "한국어";

    public static DriverText For(HttpRequest request)
    {
        var asked = request.Query["lang"].ToString();
        if (asked is "ko" or "en") return new DriverText(asked);
        var accept = request.Headers.AcceptLanguage.ToString();
        var first = accept.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).FirstOrDefault() ?? "ko";
        return new DriverText(first.StartsWith("en", StringComparison.OrdinalIgnoreCase) ? "en" : "ko");
    }

    public string T(string ko, string en) => Ko ? ko : en;
    public string Won(long amount) => PriceText.Won(amount, Lang);
    public string Kwh(long wh) => PriceText.Kwh(wh);

    public string Connector(int id) => T($"{id}번 커넥터", $"Connector {id}");

    public string WalletName(string provider) => provider.ToLowerInvariant() switch
    {
        "kakaopay" => T("카카오페이", "KakaoPay"),
        "naverpay" => T("네이버페이", "Naver Pay"),
        "tosspay" => T("토스페이", "Toss Pay"),
        "sandbox" => T("샌드박스 지갑", "Sandbox wallet"),
        _ => provider,
    };

    /// <summary>The connector as the driver needs it: can I start here?</summary>
    public (string Text, string Css) Availability(ConnectorView c, bool online) =>
        !online ? (T("충전기 오프라인", "Charger offline"), "bad")
        : c.Status is ConnectorStatus.Faulted or ConnectorStatus.Unavailable ? (T("사용 불가 (점검 중)", "Out of order"), "bad")
        : c.SessionId is not null || c.Status is not (ConnectorStatus.Available or ConnectorStatus.Preparing) ? (T("사용 중", "In use"), "busy")
        : (T("사용 가능", "Available"), "ok");

    /// <summary>Why a start did not happen, or why a hold was voided, in words a driver can act on.</summary>
    public string Reason(string? code) => code switch
    {
        "charger_offline" => T("충전기가 오프라인입니다. 다른 충전기를 이용해 주세요.", "The charger is offline. Please use another charger."),
        "charger_not_responding" => T("충전기가 응답하지 않았습니다 (통신 끊김).", "The charger did not answer (it seems to be offline)."),
        "charger_refused" => T("충전기가 시작을 거절했습니다.", "The charger refused to start."),
        "start_timeout" => T("정해진 시간 안에 충전이 시작되지 않았습니다. 케이블이 차에 연결되어 있는지 확인해 주세요.",
            "Charging did not start in time. Check that the cable is plugged into the car."),
        "connector_busy" => T("이 커넥터는 사용 중입니다.", "This connector is in use."),
        "connector_unavailable" => T("이 커넥터는 사용할 수 없습니다 (점검 중).", "This connector is out of order."),
        "unknown_connector" => T("이 충전기에 그런 커넥터가 없습니다.", "This charger has no such connector."),
        "charger_not_registered" => T("등록되지 않은 충전기입니다.", "This charger is not registered."),
        "tariff_not_configured" => T("요금이 설정되지 않은 충전기입니다.", "This charger has no tariff set up."),
        "wallet_not_offered" or "wallet_checkout_unavailable" => T("이 결제 수단은 여기서 사용할 수 없습니다.", "This wallet cannot be used here."),
        "provider_unavailable" => T("결제사가 응답하지 않습니다. 잠시 후 다시 시도해 주세요.", "The wallet provider is not answering. Please try again shortly."),
        "cancelled_in_wallet" => T("결제를 취소했습니다.", "You cancelled the payment."),
        "checkout_expired" => T("결제 승인 시간이 지났습니다. 다시 시작해 주세요.", "The approval took too long. Please start again."),
        "approval_missing" => T("결제 승인을 확인할 수 없습니다.", "The wallet did not confirm the approval."),
        "insufficient_funds" => T("잔액이 부족합니다.", "Insufficient funds in the wallet."),
        "limit_exceeded" => T("결제 한도를 넘었습니다.", "The amount is over the wallet's limit."),
        "wallet_blocked" => T("사용이 정지된 지갑입니다.", "This wallet is blocked."),
        "wallet_has_open_session" => T("이 지갑으로 진행 중인 다른 충전이 있습니다.", "This wallet is already paying for another charge."),
        "code_used" or "code_expired" or "unknown_code" or "checkout_mismatch" => T("결제 승인이 유효하지 않습니다. 다시 시작해 주세요.", "The approval is no longer valid. Please start again."),
        "below_minimum" => T("최소 과금 기준 미만이라 요금이 없습니다.", "Below the minimum: nothing is charged."),
        "provider_unavailable_retrying" or "authorization_interrupted" or "authorization_late" => T("결제사 응답이 늦어 승인을 취소했습니다.", "The wallet provider answered too late; the approval was cancelled."),
        "start_interrupted" or "start_failed" => T("시작하지 못했습니다. 다시 시도해 주세요.", "The start did not go through. Please try again."),
        null or "" => T("알 수 없는 이유", "Unknown reason"),
        _ => T($"거절됨 ({code})", $"Refused ({code})"),
    };

    public string Duration(TimeSpan d) => d.TotalHours >= 1 ? $"{(int)d.TotalHours}:{d.Minutes:00}:{d.Seconds:00}" : $"{d.Minutes}:{d.Seconds:00}";
}
