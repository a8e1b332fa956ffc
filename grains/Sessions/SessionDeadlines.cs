using EvCharge.Grains;

namespace EvCharge.Sessions;

/// <summary>Deadlines a session may set for itself instead of taking the platform's (<see cref="SessionRules"/>).</summary>
public static class SessionDeadlines
{
    /// <summary>How long an authorized session waits for StartTransaction: its own deadline (a remote start) or the platform's.</summary>
    public static TimeSpan StartTimeout(SessionRecord s, SessionRules rules) =>
        s.Start?.StartTimeout is { } own && own > TimeSpan.Zero ? own : rules.StartTimeout;
}
