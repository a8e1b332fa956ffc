namespace EvCharge;

/// <summary>Platform-wide settings (section "EvCharge").</summary>
public sealed class EvChargeOptions
{
    /// <summary>The platform operator's payee account at the wallet providers.</summary>
    public string PlatformPayeeAccount { get; set; } = "platform-operator";
    /// <summary>Used when neither charger nor CPO sets a hold.</summary>
    public long DefaultHoldAmount { get; set; } = 50_000;
    /// <summary>Stop the transaction once the running cost is this close to the hold (basis points of the hold).</summary>
    public int HoldStopMarginBasisPoints { get; set; } = 500;
    public int HeartbeatIntervalSeconds { get; set; } = 300;
    /// <summary>A hold that is not followed by StartTransaction within this time is voided.</summary>
    public TimeSpan StartTimeout { get; set; } = TimeSpan.FromMinutes(5);
    /// <summary>A transaction with no meter value or stop for this long is closed from its last meter value.</summary>
    public TimeSpan StopTimeout { get; set; } = TimeSpan.FromHours(2);
    /// <summary>How often the sweepers look for due sessions (also the retry delay of a stuck settlement).</summary>
    public TimeSpan WatchdogPeriod { get; set; } = TimeSpan.FromMinutes(1);
    /// <summary>Sweeper grains sharing the session buckets (a reminder each).</summary>
    public int Sweepers { get; set; } = 4;
    /// <summary>
    /// How long the provider may take to authorize before the charger is told the payment failed. It must end before
    /// the charger's own answer is due (Orleans' response timeout, 30 s by default, bounds every grain call); an
    /// approval that arrives later is voided at once.
    /// </summary>
    public TimeSpan AuthorizeBudget { get; set; } = TimeSpan.FromSeconds(20);
    /// <summary>Provider attempts (each already retried by the HTTP pipeline) before a session needs attention.</summary>
    public int MaxSettlementAttempts { get; set; } = 5;
    /// <summary>A hold older than this is captured (or re-authorized) before the provider lets it expire.</summary>
    public TimeSpan HoldRefreshBefore { get; set; } = TimeSpan.FromHours(12);
    /// <summary>
    /// The most one charge may authorize in all when a long charge raises its hold or rolls over to a new one (a bound on
    /// a runaway meter; a seamless binding's per-charge limit is lower where set).
    /// </summary>
    public long MaxSessionAmount { get; set; } = DefaultMaxSessionAmount;
    public const long DefaultMaxSessionAmount = 500_000;
}
