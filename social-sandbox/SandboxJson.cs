using System.Text.Json;
using System.Text.Json.Serialization;

namespace EvCharge.SocialSandbox;

/// <summary>
/// The sandbox's own JSON settings (camelCase, nulls omitted). It serializes by hand instead of through the
/// host's HTTP JSON options so embedding it in another ASP.NET Core app leaves that app's settings alone.
/// </summary>
public static class SandboxJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };
}
