namespace EvCharge.Payments;

/// <summary>
/// Settings of the HTTP adapter to the sandbox wallet provider. The retry budget is bounded twice: by the number of
/// attempts and by <see cref="TotalTimeout"/>; whichever ends first makes the call throw
/// <see cref="PaymentProviderUnavailableException"/> (outcome unknown, resume later with the same key).
/// </summary>
public sealed class SandboxGatewayOptions
{
    /// <summary>The provider's hold lifetime, reported in <see cref="ProviderCapabilities.HoldLifetime"/>.</summary>
    public TimeSpan HoldLifetime { get; set; } = TimeSpan.FromDays(7);

    /// <summary>Time-out of one HTTP attempt; a hung attempt is abandoned and retried with the same key.</summary>
    public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Upper bound for one gateway call, all attempts and back-off delays included.</summary>
    public TimeSpan TotalTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Retries after the first attempt (so at most this + 1 requests reach the provider).</summary>
    public int MaxRetryAttempts { get; set; } = 5;

    /// <summary>First back-off delay; it doubles per retry, with jitter, up to <see cref="MaxRetryDelay"/>.</summary>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromMilliseconds(200);

    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromSeconds(5);
}
