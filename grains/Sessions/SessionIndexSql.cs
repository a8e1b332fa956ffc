using System.Data.Common;
using EvCharge.Charging;

namespace EvCharge.Sessions;

/// <summary>
/// The operators' session list, read from the session rows; SQL shared by both stores (both accept <c>@name</c> parameters). Times are passed by the caller already in
/// the store's representation (Unix microseconds for SQLite, timestamptz for PostgreSQL).
/// </summary>
internal static class SessionIndexSql
{
    public const string Columns = """
        session_id, state, charger_id, connector_id, cpo_id, wallet_key, hold_amount, energy_wh, fee, captured,
        refunded, debt, seamless, fee_mismatch, reason, created_at, started_at, stopped_at, updated_at
        """;

    /// <summary>
    /// SELECT for one page: filters ANDed, keyset condition after the cursor, one row more than asked so the
    /// caller knows whether a next page exists without a COUNT.
    /// </summary>
    public static void BuildQuery(DbCommand cmd, SessionQuery q, Func<DateTimeOffset, object> time, Func<long, object> cursorTime)
    {
        SessionCursor.Validate(q);
        var where = new List<string>();
        if (q.CpoId is not null) { where.Add("cpo_id = @cpo"); Add(cmd, "cpo", q.CpoId); }
        if (q.ChargerId is not null) { where.Add("charger_id = @charger"); Add(cmd, "charger", q.ChargerId); }
        if (q.State is { } st) { where.Add("state = @state"); Add(cmd, "state", st.ToString()); }
        if (q.From is { } from) { where.Add("created_at >= @from"); Add(cmd, "from", time(from)); }
        if (q.To is { } to) { where.Add("created_at < @to"); Add(cmd, "to", time(to)); }
        if (q.Seamless is { } seamless) { where.Add("seamless = @seamless"); Add(cmd, "seamless", seamless); }
        if (q.Cursor is not null && SessionCursor.TryDecode(q.Cursor, out var micros, out var sid))
        {
            where.Add("(created_at < @c_at OR (created_at = @c_at AND session_id < @c_id))");
            Add(cmd, "c_at", cursorTime(micros));
            Add(cmd, "c_id", sid);
        }
        cmd.CommandText = $"SELECT {Columns} FROM sessions"
            + (where.Count > 0 ? " WHERE " + string.Join(" AND ", where) : "")
            + " ORDER BY created_at DESC, session_id DESC LIMIT @limit";
        Add(cmd, "limit", q.Limit + 1);
    }

    public static async Task<SessionPage> ReadPageAsync(DbDataReader r, int limit, Func<DbDataReader, int, DateTimeOffset> time, CancellationToken ct)
    {
        var items = new List<SessionSummary>();
        var more = false;
        while (await r.ReadAsync(ct))
        {
            if (items.Count == limit) { more = true; break; }
            DateTimeOffset? Opt(int i) => r.IsDBNull(i) ? null : time(r, i);
            items.Add(new SessionSummary(
                r.GetString(0), Enum.Parse<SessionState>(r.GetString(1)), r.IsDBNull(2) ? null : r.GetString(2),
                Convert.ToInt32(r.GetValue(3)), r.IsDBNull(4) ? null : r.GetString(4), r.IsDBNull(5) ? null : r.GetString(5),
                Convert.ToInt64(r.GetValue(6)), Convert.ToInt64(r.GetValue(7)), r.IsDBNull(8) ? null : Convert.ToInt64(r.GetValue(8)),
                Convert.ToInt64(r.GetValue(9)), Convert.ToInt64(r.GetValue(10)), Convert.ToInt64(r.GetValue(11)),
                Convert.ToBoolean(r.GetValue(12)), Convert.ToBoolean(r.GetValue(13)), r.IsDBNull(14) ? null : r.GetString(14),
                time(r, 15), Opt(16), Opt(17), time(r, 18)));
        }
        var next = more && items.Count > 0
            ? SessionCursor.Encode(SessionCursor.ToMicros(items[^1].CreatedAt), items[^1].SessionId)
            : null;
        return new SessionPage(items, next);
    }

    private static void Add(DbCommand cmd, string name, object? value)
    {
        var p = cmd.CreateParameter();
        p.ParameterName = "@" + name;
        p.Value = value ?? DBNull.Value;
        cmd.Parameters.Add(p);
    }
}
