using System.Buffers.Text;
using System.Security.Cryptography;

namespace EvCharge.Silo.Security;

/// <summary>
/// The embedded default's first run: with no <c>Auth:ApiKeys</c> configured, an operator key is created once in
/// <c>{DataDirectory}/operator.key</c>, readable and writable by the silo's user only (0600), and used as the operator
/// key from then on. Without it every API call and console sign-in of a fresh install would be refused with nothing
/// saying which key to use. The key is never logged: the start-up report prints where the file is.
/// Only the embedded (SQLite) profile does this: a cluster's silos must share keys, so they come from configuration.
/// </summary>
public static class FirstRunOperatorKey
{
    public const string FileName = "operator.key";
    private const string Prefix = "evc-op-";
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>Where the key is and whether this start created it.</summary>
    public sealed record Notice(string Path, bool Created, bool PermissionsTightened);

    /// <summary>
    /// Reads the key file, or creates it with owner-only permissions, and adds the key to configuration as
    /// <c>Auth:ApiKeys:0</c> (role Operator). Returns null when keys are configured (nothing to do).
    /// </summary>
    public static Notice? Apply(IConfigurationManager configuration, string dataDirectory)
    {
        if (configuration.GetSection($"{ApiAuthOptions.SectionName}:ApiKeys").GetChildren().Any()) return null;
        var path = System.IO.Path.GetFullPath(System.IO.Path.Combine(dataDirectory, FileName));
        var (key, created, tightened) = ReadOrCreate(path);
        configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            [$"{ApiAuthOptions.SectionName}:ApiKeys:0:Key"] = key,
            [$"{ApiAuthOptions.SectionName}:ApiKeys:0:Role"] = nameof(ApiRole.Operator),
            [$"{ApiAuthOptions.SectionName}:ApiKeys:0:Name"] = "first-run-operator",
        });
        return new Notice(path, created, tightened);
    }

    internal static (string Key, bool Created, bool Tightened) ReadOrCreate(string path)
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        if (!File.Exists(path))
        {
            var key = Prefix + Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));
            try
            {
                // Created with 0600 in the same call, so the key is never readable by others, not even for a moment.
                var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
                if (!OperatingSystem.IsWindows()) options.UnixCreateMode = OwnerOnly;
                using (var stream = new FileStream(path, options))
                using (var writer = new StreamWriter(stream))
                    writer.WriteLine(key);
                return (key, true, false);
            }
            catch (IOException) when (File.Exists(path))
            {
                // Another start created it first: read theirs.
            }
        }

        var tightened = false;
        if (!OperatingSystem.IsWindows() && (File.GetUnixFileMode(path) & ~OwnerOnly) != 0)
        {
            File.SetUnixFileMode(path, OwnerOnly);
            tightened = true;
        }
        var existing = File.ReadAllText(path).Trim();
        if (existing.Length < 16)
            throw new InvalidOperationException($"{path} does not hold an operator key (at least 16 characters). Delete it to have a new one created.");
        return (existing, false, tightened);
    }
}
