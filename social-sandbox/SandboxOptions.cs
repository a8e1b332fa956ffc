namespace EvCharge.SocialSandbox;

/// <summary>
/// Settings of one sandbox instance. Bound from the <c>Sandbox</c> configuration section by <c>Program.cs</c>;
/// tests set them directly. Lifetimes are settable small so expiry can be tested without waiting days.
/// </summary>
public sealed class SandboxOptions
{
    /// <summary>How long a one-time payment code shown on the phone stays valid.</summary>
    public TimeSpan PaymentCodeLifetime { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>How long a hold lives before it expires and its money is released.</summary>
    public TimeSpan HoldLifetime { get; set; } = TimeSpan.FromDays(7);

    /// <summary>
    /// Append-only JSON-lines journal; when set, state survives a restart (replayed at start).
    /// When null the sandbox is in memory only.
    /// </summary>
    public string? DataFile { get; set; }

    /// <summary>How long a request picked for a time-out fault hangs before it is answered 504.</summary>
    public TimeSpan FaultTimeoutHang { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Where the sandbox reads "now" from; tests pass a clock they can move forward.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>Salt for wallet references, so <c>walletRef</c> is stable but not the wallet id itself.</summary>
    public string WalletRefSalt { get; set; } = "evcharge-social-sandbox";

    /// <summary>Idle SSE streams get a comment line this often so proxies keep them open.</summary>
    public TimeSpan ReceiptStreamKeepAlive { get; set; } = TimeSpan.FromSeconds(15);
}
