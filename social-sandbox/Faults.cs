namespace EvCharge.SocialSandbox;

/// <summary>
/// Fault switches (<c>PUT /v1/faults</c>). Rates are probabilities per request of the listed operations;
/// one random draw per request picks at most one fault, so with a seed the sequence is reproducible.
/// <list type="bullet">
/// <item><c>declineRate</c>: authorize only; the issuer declines with <c>do_not_honor</c> (a real, stored answer).</item>
/// <item><c>errorRate</c>: 503 before anything executes.</item>
/// <item><c>timeoutRate</c>: the request hangs (<see cref="SandboxOptions.FaultTimeoutHang"/>) then gets 504; nothing executes.</item>
/// <item><c>lostAnswerRate</c>: the operation executes and its answer is stored, then the caller gets 503 —
/// a capture that happened but whose answer was lost. A retry with the same key gets the stored answer.</item>
/// <item><c>latencyMs</c>: added to every request of the listed operations.</item>
/// </list>
/// </summary>
public sealed record FaultSettings(
    double DeclineRate = 0, double ErrorRate = 0, double TimeoutRate = 0, int LatencyMs = 0, double LostAnswerRate = 0,
    int? Seed = null, IReadOnlyList<string>? AppliesTo = null)
{
    public static readonly IReadOnlyList<string> Operations = ["authorize", "capture", "void", "refund"];
    public static readonly FaultSettings None = new();

    public string? Validate()
    {
        double[] rates = [DeclineRate, ErrorRate, TimeoutRate, LostAnswerRate];
        if (rates.Any(r => r is < 0 or > 1 || double.IsNaN(r))) return "rates must be between 0 and 1";
        if (rates.Sum() > 1 + 1e-9) return "declineRate + errorRate + timeoutRate + lostAnswerRate must not exceed 1";
        if (LatencyMs < 0) return "latencyMs must not be negative";
        if (AppliesTo?.FirstOrDefault(o => !Operations.Contains(o)) is { } bad)
            return $"unknown operation '{bad}'; use {string.Join(", ", Operations)}";
        return null;
    }

    public bool AppliesToOperation(string operation) => AppliesTo is not { Count: > 0 } || AppliesTo.Contains(operation);
}

public enum FaultKind { None, Decline, Error, Timeout, LostAnswer }

public readonly record struct FaultDecision(FaultKind Kind, int LatencyMs)
{
    public static readonly FaultDecision Nothing = new(FaultKind.None, 0);
}

/// <summary>Thread-safe holder of the current switches and their seeded random source.</summary>
public sealed class FaultInjector
{
    private readonly Lock _gate = new();
    private FaultSettings _settings = FaultSettings.None;
    private Random _random = new();

    public FaultSettings Current
    {
        get { lock (_gate) return _settings; }
    }

    public void Set(FaultSettings settings)
    {
        if (settings.Validate() is { } error) throw new ArgumentException(error, nameof(settings));
        lock (_gate)
        {
            _settings = settings;
            _random = settings.Seed is { } seed ? new Random(seed) : new Random();
        }
    }

    public void Clear() => Set(FaultSettings.None);

    public FaultDecision Decide(string operation)
    {
        lock (_gate)
        {
            var s = _settings;
            if (ReferenceEquals(s, FaultSettings.None) || !s.AppliesToOperation(operation)) return FaultDecision.Nothing;
            var draw = _random.NextDouble();
            var kind = FaultKind.None;
            if ((draw -= s.DeclineRate) < 0) kind = operation == "authorize" ? FaultKind.Decline : FaultKind.None;
            else if ((draw -= s.ErrorRate) < 0) kind = FaultKind.Error;
            else if ((draw -= s.TimeoutRate) < 0) kind = FaultKind.Timeout;
            else if ((draw -= s.LostAnswerRate) < 0) kind = FaultKind.LostAnswer;
            return new FaultDecision(kind, s.LatencyMs);
        }
    }
}
