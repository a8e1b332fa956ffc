using System.Text;
using EvCharge.Ledger;
using EvCharge.Silo.Apis;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace EvCharge.Silo.OperatorConsole.Pages;

/// <summary>A payee's remittances over recent days and its daily settlement statement (KST day), with a CSV download.</summary>
public sealed class PayeeModel(IGrainFactory grains, ILedger ledger, IOptions<EvChargeOptions> options, TimeProvider time) : ConsolePage
{
    public const int RemittanceDays = 7;
    [BindProperty(SupportsGet = true)] public DateOnly? Date { get; set; }
    public DateOnly Day { get; private set; }
    public RemittancesResponse Remittances { get; private set; } = null!;
    public SettlementStatement Statement { get; private set; } = null!;

    public async Task<IActionResult> OnGetAsync(string payeeAccount)
    {
        if (!await VisibleAsync(payeeAccount)) return NotFoundPage($"No payee account {payeeAccount} for you.");
        Day = Date ?? ConsoleFormat.Today(time);
        var (from, _) = ConsoleFormat.DayRange(ConsoleFormat.Today(time).AddDays(-(RemittanceDays - 1)));
        Remittances = await PayeesApi.RemittancesAsync(ledger, payeeAccount, from, null);
        Statement = await PayeesApi.StatementAsync(ledger, payeeAccount, Day);
        return Page();
    }

    /// <summary>The day's statement as a CSV file (one row per remittance or reversal line).</summary>
    public async Task<IActionResult> OnGetCsvAsync(string payeeAccount)
    {
        if (!await VisibleAsync(payeeAccount)) return NotFound();
        var day = Date ?? ConsoleFormat.Today(time);
        var statement = await PayeesApi.StatementAsync(ledger, payeeAccount, day);
        Response.Headers.CacheControl = "no-store"; // settlement figures stay out of shared caches
        return File(Encoding.UTF8.GetBytes(ConsoleFormat.StatementCsv(statement)), "text/csv; charset=utf-8", $"statement-{payeeAccount}-{day:yyyy-MM-dd}.csv");
    }

    private async Task<bool> VisibleAsync(string payeeAccount) =>
        FieldErrors.IsId(payeeAccount) && await PayeesApi.Denied(payeeAccount, User, grains, options.Value) is null;
}
