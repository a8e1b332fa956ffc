namespace EvCharge.Driver;

/// <summary>Scan &amp; Charge and the price shown to drivers (section "Driver"; docs/driver.md).</summary>
public sealed class DriverOptions
{
    public const string SectionName = "Driver";

    /// <summary>
    /// The address drivers' phones reach the silo at: printed in the connectors' QR codes, sent to wallets as the return
    /// address and to chargers as the receipt link. Unset: the silo's own first URL (fine on a laptop, not for real QR codes).
    /// </summary>
    public Uri? PublicBaseUrl { get; set; }

    /// <summary>How long the charger may take from RemoteStartTransaction to StartTransaction (the driver plugs in) before the hold is voided.</summary>
    public TimeSpan RemoteStartTimeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>How long the charger may take to answer RemoteStartTransaction at all before it counts as unreachable and the hold is voided.</summary>
    public TimeSpan RemoteStartAnswerTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The charger's display gets a RunningCost message at most this often (in meter time: the timestamps of the meter
    /// values it reports), and one right after the transaction starts.
    /// </summary>
    public TimeSpan RunningCostInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Starts (wallet checkouts) allowed per client address per minute.</summary>
    public int StartsPerAddressPerMinute { get; set; } = 6;

    /// <summary>Starts allowed per connector per minute, whoever asks.</summary>
    public int StartsPerConnectorPerMinute { get; set; } = 4;

    /// <summary>The wallet providers a driver may pick on the page, in this order (provider names of the payment registry).</summary>
    public List<string> Wallets { get; set; } = ["kakaopay", "naverpay", "tosspay"];

    /// <summary>A checkout the driver never approved is dropped (and the page says so) after this long.</summary>
    public TimeSpan CheckoutLifetime { get; set; } = TimeSpan.FromMinutes(10);
}
