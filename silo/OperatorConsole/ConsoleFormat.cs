using System.Globalization;
using System.Text;
using EvCharge.Silo.Apis;

namespace EvCharge.Silo.OperatorConsole;

/// <summary>How the console writes money, energy and times: integer KRW with separators, kWh from Wh, KST.</summary>
public static class ConsoleFormat
{
    public static readonly TimeSpan Kst = TimeSpan.FromHours(9);

    public static string Krw(long amount) => (amount < 0 ? "−₩" : "₩") + Math.Abs(amount).ToString("#,0", CultureInfo.InvariantCulture);
    public static string Krw(long? amount) => amount is { } a ? Krw(a) : "–";

    /// <summary>Wh as kWh with up to three decimals: exact, since a Wh is a thousandth of a kWh.</summary>
    public static string Kwh(long wh) => (wh / 1000m).ToString("#,0.###", CultureInfo.InvariantCulture) + " kWh";

    public static string Time(DateTimeOffset? t) => t is { } v ? v.ToOffset(Kst).ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) : "–";

    public static string Day(DateTimeOffset t) => t.ToOffset(Kst).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    public static DateOnly Today(TimeProvider time) => DateOnly.FromDateTime(time.GetUtcNow().ToOffset(Kst).DateTime);

    /// <summary>A KST calendar day as [00:00, 24:00) +09:00.</summary>
    public static (DateTimeOffset From, DateTimeOffset To) DayRange(DateOnly day) => Apis.Kst.Day(day);

    /// <summary>
    /// Energy delivered over time for the meter plot: zero at the start, each register reading less the start
    /// reading, and the final energy at the stop. Empty before the transaction started.
    /// </summary>
    public static IReadOnlyList<(DateTimeOffset Time, long EnergyWh)> EnergyTimeline(SessionResponse s)
    {
        if (s.MeterStartWh is not { } start || s.StartedAt is not { } started) return [];
        var points = new List<(DateTimeOffset Time, long EnergyWh)> { (started, 0) };
        points.AddRange(s.MeterTimeline.Select(m => (m.Timestamp, Math.Max(0, m.EnergyWh - start))));
        if (s.StoppedAt is { } stopped) points.Add((stopped, s.EnergyWh));
        return points.OrderBy(p => p.Time).ToList();
    }

    /// <summary>
    /// A daily settlement statement as CSV (RFC 4180): one row per remittance line. Text cells that a spreadsheet
    /// would run as a formula (leading = + - @) are prefixed with an apostrophe.
    /// </summary>
    public static string StatementCsv(SettlementStatement statement)
    {
        var sb = new StringBuilder();
        sb.Append("payee_account,date_kst,posted_at_kst,session_id,kind,amount_krw,reference\r\n");
        foreach (var l in statement.Lines)
            sb.Append(Cell(statement.PayeeAccount)).Append(',')
              .Append(statement.Date.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)).Append(',')
              .Append(l.PostedAt.ToOffset(Kst).ToString("yyyy-MM-dd'T'HH:mm:ss'+09:00'", CultureInfo.InvariantCulture)).Append(',')
              .Append(Cell(l.SessionId)).Append(',')
              .Append(l.Kind).Append(',')
              .Append(l.Amount.ToString(CultureInfo.InvariantCulture)).Append(',')
              .Append(Cell(l.Reference ?? "")).Append("\r\n");
        return sb.ToString();
    }

    internal static string Cell(string value)
    {
        if (value.Length > 0 && value[0] is '=' or '+' or '-' or '@' or '\t' or '\r') value = "'" + value;
        return value.IndexOfAny([',', '"', '\r', '\n']) >= 0 ? "\"" + value.Replace("\"", "\"\"") + "\"" : value;
    }
}
