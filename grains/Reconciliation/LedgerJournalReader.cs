using System.Data.Common;
using EvCharge.Ledger;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace EvCharge.Reconciliation;

/// <summary>One ledger line with its journal's kind and reference, as reconciliation reads them.</summary>
public sealed record LedgerLineRow(string JournalKey, string SessionId, JournalKind Kind, string? Reference, string Account, long Amount);

/// <summary>
/// Reads the whole ledger for reconciliation. <see cref="ILedger"/> answers per session or per account; reconciliation
/// needs every Hold journal, so it reads the ledger tables (the same SQL on SQLite and PostgreSQL) read-only.
/// </summary>
public interface ILedgerJournalReader
{
    Task<IReadOnlyList<LedgerLineRow>> ReadAllAsync(CancellationToken ct = default);
}

internal sealed class SqlLedgerJournalReader(LedgerOptions options) : ILedgerJournalReader
{
    private const string Sql = """
        SELECT j.journal_key, j.session_id, j.kind, j.reference, l.account, l.amount
        FROM ledger_journals j JOIN ledger_lines l ON l.journal_key = j.journal_key
        ORDER BY j.session_id, j.journal_key, l.line_no
        """;

    private readonly Lazy<NpgsqlDataSource>? _postgres = options.IsPostgres
        ? new(() => NpgsqlDataSource.Create(options.ConnectionString!))
        : null;

    public async Task<IReadOnlyList<LedgerLineRow>> ReadAllAsync(CancellationToken ct = default)
    {
        await using var connection = await OpenAsync(ct);
        await using var command = connection.CreateCommand();
        command.CommandText = Sql;
        await using var reader = await command.ExecuteReaderAsync(ct);
        var rows = new List<LedgerLineRow>();
        while (await reader.ReadAsync(ct))
        {
            rows.Add(new LedgerLineRow(reader.GetString(0), reader.GetString(1), Enum.Parse<JournalKind>(reader.GetString(2)),
                reader.IsDBNull(3) ? null : reader.GetString(3), reader.GetString(4), Convert.ToInt64(reader.GetValue(5))));
        }
        return rows;
    }

    private async Task<DbConnection> OpenAsync(CancellationToken ct)
    {
        if (_postgres is not null) return await _postgres.Value.OpenConnectionAsync(ct);
        var path = string.IsNullOrWhiteSpace(options.ConnectionString) ? Path.Combine("data", "evcharge.db") : options.ConnectionString!;
        var builder = path.Contains('=') ? new SqliteConnectionStringBuilder(path) : new SqliteConnectionStringBuilder { DataSource = path };
        builder.Mode = SqliteOpenMode.ReadOnly;
        var connection = new SqliteConnection(builder.ToString());
        await connection.OpenAsync(ct);
        return connection;
    }
}
