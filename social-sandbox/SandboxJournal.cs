using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace EvCharge.SocialSandbox;

/// <summary>
/// Durability for the sandbox: an append-only JSON-lines file. Every state change is written as the whole new
/// record (<c>{"t":"auth","v":{...}}</c>) before the answer leaves the process, so a restart replays the file and
/// "last record per id wins". A torn last line from a killed process is skipped. At start the replayed state is
/// written back as a compact snapshot, which keeps the file from growing without bound across restarts.
/// </summary>
internal sealed class SandboxJournal : IDisposable
{
    private readonly string _path;
    private FileStream? _stream;

    public SandboxJournal(string path)
    {
        _path = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(_path)!);
    }

    public IEnumerable<(string Type, JsonElement Value)> ReadAll()
    {
        if (!File.Exists(_path)) yield break;
        foreach (var line in File.ReadLines(_path, Encoding.UTF8))
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            JsonDocument doc;
            try { doc = JsonDocument.Parse(line); }
            catch (JsonException) { continue; } // torn write at the moment the process died
            using (doc)
            {
                if (doc.RootElement.TryGetProperty("t", out var t) && doc.RootElement.TryGetProperty("v", out var v))
                    yield return (t.GetString()!, v.Clone());
            }
        }
    }

    /// <summary>Replaces the file with a snapshot of the given records, atomically, then opens it for appends.</summary>
    public void Compact(IEnumerable<(string Type, object Value)> records)
    {
        var tmp = _path + ".tmp";
        using (var w = new StreamWriter(tmp, false, new UTF8Encoding(false)))
        {
            foreach (var (type, value) in records) w.Write(Line(type, value));
        }
        File.Move(tmp, _path, overwrite: true);
        _stream = new FileStream(_path, FileMode.Append, FileAccess.Write, FileShare.Read);
    }

    /// <summary>Appends the records as one write; the caller holds the store lock, so lines never interleave.</summary>
    public void Append(IReadOnlyList<(string Type, object Value)> records)
    {
        if (_stream is null || records.Count == 0) return;
        var sb = new StringBuilder();
        foreach (var (type, value) in records) sb.Append(Line(type, value));
        var bytes = Encoding.UTF8.GetBytes(sb.ToString());
        _stream.Write(bytes);
        // Flush to the OS: survives a killed process (the crash tests), not a power cut; good enough for a sandbox.
        _stream.Flush();
    }

    private static string Line(string type, object value)
    {
        var node = new JsonObject
        {
            ["t"] = type,
            ["v"] = JsonSerializer.SerializeToNode(value, value.GetType(), SandboxJson.Options),
        };
        return node.ToJsonString() + "\n";
    }

    public void Dispose() => _stream?.Dispose();
}
