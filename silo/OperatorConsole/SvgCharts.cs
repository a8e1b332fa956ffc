using System.Globalization;
using System.Net;
using System.Text;

namespace EvCharge.Silo.OperatorConsole;

/// <summary>
/// Charts as inline SVG, drawn on the server: no chart library, no script, and they print and screenshot as they
/// are. Styling comes from console.css classes (the console's CSP allows no inline styles). Pure functions.
/// </summary>
public static class SvgCharts
{
    private const int Left = 72, Right = 16, Top = 14, Bottom = 30;
    private static readonly TimeSpan Kst = TimeSpan.FromHours(9);

    /// <summary>A bar per bucket, y axis from zero with round ticks; every bar has a tooltip with its exact value.</summary>
    public static string Bars(IReadOnlyList<ChartBar> bars, Func<long, string> format, string title, int width = 1000, int height = 250)
    {
        var sb = Open(title, width, height);
        var plotW = width - Left - Right;
        var plotH = height - Top - Bottom;
        var max = bars.Count == 0 ? 0 : bars.Max(b => b.Value);
        var ticks = NiceTicks(max);
        var top = ticks[^1];
        YAxis(sb, ticks, top, plotW, plotH, v => format((long)v));
        if (bars.Count == 0 || max == 0) Empty(sb, width, height);
        var slot = bars.Count == 0 ? 0 : (double)plotW / bars.Count;
        var labelEvery = Math.Max(1, (int)Math.Ceiling(bars.Count / 12.0));
        for (var i = 0; i < bars.Count; i++)
        {
            var b = bars[i];
            var h = top <= 0 ? 0 : plotH * (double)b.Value / top;
            var x = Left + i * slot + slot * 0.15;
            sb.Append($"<rect class=\"bar\" x=\"{F(x)}\" y=\"{F(Top + plotH - h)}\" width=\"{F(slot * 0.7)}\" height=\"{F(h)}\">")
              .Append($"<title>{E(b.Label)}: {E(format(b.Value))}</title></rect>");
            if ((bars.Count - 1 - i) % labelEvery == 0) // anchored at the newest bar, which is the one people look for
                sb.Append($"<text class=\"axis-label\" x=\"{F(Left + i * slot + slot / 2)}\" y=\"{height - 10}\" text-anchor=\"middle\">{E(b.Label)}</text>");
        }
        return Close(sb);
    }

    /// <summary>
    /// A cumulative quantity over time (the meter timeline): a line through the samples with a dot per sample,
    /// times on the x axis in KST.
    /// </summary>
    public static string Line(IReadOnlyList<(DateTimeOffset Time, long Value)> points, Func<long, string> format, string title,
        int width = 1000, int height = 250)
    {
        var sb = Open(title, width, height);
        var plotW = width - Left - Right;
        var plotH = height - Top - Bottom;
        var ordered = points.OrderBy(p => p.Time).ToList();
        var max = ordered.Count == 0 ? 0 : ordered.Max(p => p.Value);
        var ticks = NiceTicks(max);
        var top = ticks[^1];
        YAxis(sb, ticks, top, plotW, plotH, v => format((long)v));
        if (ordered.Count == 0) return Close(Empty(sb, width, height));

        var t0 = ordered[0].Time;
        var span = ordered[^1].Time - t0;
        if (span <= TimeSpan.Zero) { t0 -= TimeSpan.FromMinutes(1); span = TimeSpan.FromMinutes(2); }
        double X(DateTimeOffset t) => Left + plotW * ((t - t0).TotalSeconds / span.TotalSeconds);
        double Y(long v) => Top + plotH - (top <= 0 ? 0 : plotH * (double)v / top);

        var timeFormat = span < TimeSpan.FromMinutes(10) ? "HH:mm:ss" : "HH:mm";
        for (var i = 0; i <= 4; i++)
        {
            var t = t0 + span * (i / 4.0);
            sb.Append($"<text class=\"axis-label\" x=\"{F(X(t))}\" y=\"{height - 10}\" text-anchor=\"{(i == 0 ? "start" : i == 4 ? "end" : "middle")}\">")
              .Append(E(t.ToOffset(Kst).ToString(timeFormat, CultureInfo.InvariantCulture))).Append("</text>");
        }
        var path = string.Join(' ', ordered.Select((p, i) => $"{(i == 0 ? 'M' : 'L')}{F(X(p.Time))},{F(Y(p.Value))}"));
        sb.Append($"<path class=\"line\" d=\"{path}\" />");
        foreach (var p in ordered)
            sb.Append($"<circle class=\"dot\" cx=\"{F(X(p.Time))}\" cy=\"{F(Y(p.Value))}\" r=\"3\">")
              .Append($"<title>{E(p.Time.ToOffset(Kst).ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture))} KST: {E(format(p.Value))}</title></circle>");
        return Close(sb);
    }

    /// <summary>Zero and three to five round steps (1, 2 or 5 times a power of ten) up to at least <paramref name="max"/>.</summary>
    public static IReadOnlyList<double> NiceTicks(double max, int target = 4)
    {
        if (max <= 0) return [0, 1];
        var raw = max / target;
        var magnitude = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        var step = new[] { 1, 2, 5, 10 }.Select(m => m * magnitude).First(s => s >= raw);
        var ticks = new List<double>();
        for (var v = 0.0; ; v += step)
        {
            ticks.Add(Math.Round(v, 10));
            if (v >= max) break;
        }
        return ticks;
    }

    private static StringBuilder Open(string title, int width, int height) =>
        new StringBuilder($"<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"{E(title)}\">")
            .Append($"<title>{E(title)}</title>");

    private static string Close(StringBuilder sb) => sb.Append("</svg>").ToString();

    private static StringBuilder Empty(StringBuilder sb, int width, int height) =>
        sb.Append($"<text class=\"empty\" x=\"{width / 2}\" y=\"{height / 2}\" text-anchor=\"middle\">no data in this window</text>");

    private static void YAxis(StringBuilder sb, IReadOnlyList<double> ticks, double top, int plotW, int plotH, Func<double, string> format)
    {
        foreach (var t in ticks)
        {
            var y = Top + plotH - (top <= 0 ? 0 : plotH * t / top);
            sb.Append($"<line class=\"grid\" x1=\"{Left}\" x2=\"{Left + plotW}\" y1=\"{F(y)}\" y2=\"{F(y)}\" />")
              .Append($"<text class=\"axis-label\" x=\"{Left - 6}\" y=\"{F(y + 4)}\" text-anchor=\"end\">{E(format(t))}</text>");
        }
        sb.Append($"<line class=\"axis\" x1=\"{Left}\" x2=\"{Left}\" y1=\"{Top}\" y2=\"{Top + plotH}\" />")
          .Append($"<line class=\"axis\" x1=\"{Left}\" x2=\"{Left + plotW}\" y1=\"{Top + plotH}\" y2=\"{Top + plotH}\" />");
    }

    private static string F(double v) => v.ToString("0.#", CultureInfo.InvariantCulture);
    private static string E(string s) => WebUtility.HtmlEncode(s);
}
