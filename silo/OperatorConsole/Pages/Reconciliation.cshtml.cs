using EvCharge.Ledger;
using EvCharge.Payments;
using EvCharge.Sessions;
using EvCharge.Silo.Apis;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;

namespace EvCharge.Silo.OperatorConsole.Pages;

/// <summary>Ledger against the wallet provider for the sessions created on some KST days (operator only).</summary>
[Authorize(Policy = ConsoleAuth.OperatorPolicy)]
public sealed class ReconciliationModel(ISessionIndex index, ILedger ledger, IPaymentGatewayRegistry gateways, IGrainFactory grains, TimeProvider time)
    : ConsolePage
{
    [BindProperty(SupportsGet = true)] public DateOnly? FromDay { get; set; }
    [BindProperty(SupportsGet = true)] public DateOnly? ToDay { get; set; }
    [BindProperty(SupportsGet = true)] public string? CpoId { get; set; }
    [BindProperty(SupportsGet = true)] public bool Run { get; set; }
    public ReconciliationReport? Report { get; private set; }
    public string? Error { get; private set; }

    public async Task OnGetAsync(CancellationToken ct)
    {
        var today = ConsoleFormat.Today(time);
        FromDay ??= today;
        ToDay ??= today;
        if (string.IsNullOrWhiteSpace(CpoId)) CpoId = null;
        if (!Run) return; // asking the provider about every session is not free: only when the operator says so
        var from = ConsoleFormat.DayRange(FromDay.Value).From;
        var to = ConsoleFormat.DayRange(ToDay.Value).To;
        if (CpoId is not null && !FieldErrors.IsId(CpoId)) { Error = "CPO is not a valid identifier."; return; }
        if (from >= to) { Error = "The last day is before the first day."; return; }
        if (to - from > TimeSpan.FromDays(31)) { Error = "The window is at most 31 days."; return; }
        try
        {
            Report = await ReconciliationApi.RunAsync(from, to, CpoId, index, ledger, gateways, grains, ct);
        }
        catch (PaymentProviderUnavailableException ex)
        {
            Error = $"The wallet provider did not answer: {ex.Message}";
        }
    }
}
