namespace EvCharge.Ledger;

/// <summary>
/// The ledger's and the session index's DDL, read from the very migration scripts the silo applies
/// (silo/Persistence/Sql, embedded in this assembly too), so the standalone EnsureSchema and the migrator can never
/// disagree.
/// </summary>
internal static class SchemaResource
{
    public static string Load(string relativePath)
    {
        var name = $"EvCharge.Sql/{relativePath}";
        using var stream = typeof(SchemaResource).Assembly.GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"Embedded schema script {name} is missing from the grains assembly.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
