using System.Data.Common;
using EvCharge.Grains;
using EvCharge.Sessions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orleans.Serialization;

namespace EvCharge.Silo.Persistence;

/// <summary>
/// Carries sessions stored by versions before the session store (issue 12) over to it: each session's Orleans grain
/// state (state name "session" in <c>OrleansStorage</c>, Orleans' binary serializer) becomes a session row at the same
/// version with its meter samples as rows, and the per-session watchdog reminders are removed (the sweepers look at
/// sessions now). Runs inside the migrator's transaction, after the SQL scripts, so a database is either carried over
/// whole or left as it was; a second run finds nothing left to carry.
/// </summary>
internal static class LegacySessionImport
{
    private static readonly Lazy<Serializer<SessionRecord>> Serializer = new(() =>
        new ServiceCollection().AddSerializer(b => b.AddAssembly(typeof(SessionRecord).Assembly)).BuildServiceProvider()
            .GetRequiredService<Serializer<SessionRecord>>());

    public static async Task<int> RunAsync(DbConnection c, DbTransaction tx, bool postgres, ILogger? logger, CancellationToken ct)
    {
        var legacy = new List<(string SessionId, byte[] Payload, long Version)>();
        await using (var select = Command(c, tx, "SELECT GrainIdExtensionString, PayloadBinary, Version FROM OrleansStorage WHERE GrainTypeString = 'session' AND PayloadBinary IS NOT NULL"))
        await using (var r = await select.ExecuteReaderAsync(ct))
            while (await r.ReadAsync(ct))
                legacy.Add((r.GetString(0), (byte[])r.GetValue(1), Convert.ToInt64(r.GetValue(2))));
        if (legacy.Count > 0)
        {
            var now = DateTimeOffset.UtcNow;
            var rules = SessionRules.From(new EvChargeOptions());
            foreach (var (sessionId, payload, version) in legacy)
            {
                var record = Serializer.Value.Deserialize(payload);
                var head = SessionProjection.Head(sessionId, version, record, now, rules);
                // Open sessions are looked at by the first sweep, which sets their due time by this silo's own settings.
                if (!record.IsTerminal || record.Refunds.Any(x => !x.Done)) head = head with { DueAt = now };
                await InsertHeadAsync(c, tx, postgres, head, Serializer.Value.SerializeToArray(record with { Samples = [] }), ct);
                foreach (var sample in record.Samples)
                {
                    await using var meter = Command(c, tx, "INSERT INTO session_meter (session_id, ts, energy_wh) VALUES (@s, @t, @e) ON CONFLICT (session_id, ts) DO NOTHING",
                        ("s", sessionId), ("t", Time(sample.Timestamp, postgres)), ("e", sample.EnergyWh));
                    await meter.ExecuteNonQueryAsync(ct);
                }
            }
            await using var delete = Command(c, tx, "DELETE FROM OrleansStorage WHERE GrainTypeString = 'session'");
            await delete.ExecuteNonQueryAsync(ct);
        }
        await using var reminders = Command(c, tx, "DELETE FROM OrleansRemindersTable WHERE GrainId LIKE 'chargingsession/%' AND ReminderName = 'watchdog'");
        var removed = await reminders.ExecuteNonQueryAsync(ct);
        if (legacy.Count > 0 || removed > 0)
            logger?.LogInformation("Carried {Sessions} session(s) from grain storage to the session store and removed {Reminders} per-session reminder(s)", legacy.Count, removed);
        return legacy.Count;
    }

    private static async Task InsertHeadAsync(DbConnection c, DbTransaction tx, bool postgres, SessionHead h, byte[] body, CancellationToken ct)
    {
        await using var cmd = Command(c, tx, """
            INSERT INTO sessions (session_id, version, state, charger_id, connector_id, cpo_id, wallet_key, hold_amount, energy_wh, fee,
                                  captured, refunded, debt, seamless, fee_mismatch, reason, created_at, started_at, stopped_at, updated_at,
                                  live, transaction_id, presentation, due_at, bucket, body)
            VALUES (@session_id, @version, @state, @charger_id, @connector_id, @cpo_id, @wallet_key, @hold_amount, @energy_wh, @fee,
                    @captured, @refunded, @debt, @seamless, @fee_mismatch, @reason, @created_at, @started_at, @stopped_at, @updated_at,
                    @live, @transaction_id, @presentation, @due_at, @bucket, @body)
            ON CONFLICT (session_id) DO NOTHING
            """,
            ("session_id", h.SessionId), ("version", h.Version), ("state", h.State.ToString()), ("charger_id", h.ChargerId),
            ("connector_id", h.ConnectorId), ("cpo_id", h.CpoId), ("wallet_key", h.WalletKey), ("hold_amount", h.HoldAmount),
            ("energy_wh", h.EnergyWh), ("fee", h.Fee), ("captured", h.Captured), ("refunded", h.Refunded), ("debt", h.Debt),
            ("seamless", postgres ? h.Seamless : h.Seamless ? 1 : 0), ("fee_mismatch", postgres ? h.FeeMismatch : h.FeeMismatch ? 1 : 0),
            ("reason", h.Reason), ("created_at", Time(h.CreatedAt, postgres)), ("started_at", Time(h.StartedAt, postgres)),
            ("stopped_at", Time(h.StoppedAt, postgres)), ("updated_at", Time(h.UpdatedAt, postgres)), ("live", postgres ? h.Live : h.Live ? 1 : 0),
            ("transaction_id", h.TransactionId), ("presentation", h.Presentation), ("due_at", Time(h.DueAt, postgres)),
            ("bucket", postgres ? (short)h.Bucket : h.Bucket), ("body", body));
        await cmd.ExecuteNonQueryAsync(ct);
    }

    private static object? Time(DateTimeOffset? t, bool postgres) =>
        t is not { } v ? null : postgres ? SessionCursor.Truncate(v).UtcDateTime : SessionCursor.ToMicros(v);

    private static DbCommand Command(DbConnection c, DbTransaction tx, string sql, params (string Name, object? Value)[] parameters)
    {
        var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            var p = cmd.CreateParameter();
            p.ParameterName = "@" + name;
            p.Value = value ?? DBNull.Value;
            if (value is null && PostgresNullTypes.TryGetValue(name, out var type) && p is Npgsql.NpgsqlParameter np) np.NpgsqlDbType = type;
            cmd.Parameters.Add(p);
        }
        return cmd;
    }

    // Npgsql needs a type for a null it cannot infer.
    private static readonly Dictionary<string, NpgsqlTypes.NpgsqlDbType> PostgresNullTypes = new()
    {
        ["charger_id"] = NpgsqlTypes.NpgsqlDbType.Text, ["cpo_id"] = NpgsqlTypes.NpgsqlDbType.Text, ["wallet_key"] = NpgsqlTypes.NpgsqlDbType.Text,
        ["fee"] = NpgsqlTypes.NpgsqlDbType.Bigint, ["reason"] = NpgsqlTypes.NpgsqlDbType.Text, ["started_at"] = NpgsqlTypes.NpgsqlDbType.TimestampTz,
        ["stopped_at"] = NpgsqlTypes.NpgsqlDbType.TimestampTz, ["transaction_id"] = NpgsqlTypes.NpgsqlDbType.Integer,
        ["presentation"] = NpgsqlTypes.NpgsqlDbType.Text, ["due_at"] = NpgsqlTypes.NpgsqlDbType.TimestampTz,
    };
}
