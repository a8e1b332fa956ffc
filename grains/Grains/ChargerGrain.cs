using System.Collections.Immutable;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using EvCharge.Charging;
using EvCharge.Domain;
using EvCharge.Ocpp;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Concurrency;

namespace EvCharge.Grains;

[GenerateSerializer]
public sealed record ChargerRecord
{
    [Id(0)] public ChargerRegistration? Registration { get; init; }
    [Id(1)] public string? PasswordHash { get; init; }
    [Id(2)] public int NextTransactionId { get; init; } = 1;
    [Id(3)] public ImmutableDictionary<int, ConnectorRecord> Connectors { get; init; } = ImmutableDictionary<int, ConnectorRecord>.Empty;
    /// <summary>Authorization reference (the idTag the charger will use) -> the session it opened.</summary>
    [Id(4)] public ImmutableDictionary<string, PendingAuthorization> ByIdTag { get; init; } = ImmutableDictionary<string, PendingAuthorization>.Empty;
    /// <summary>Issued transaction ids -> sessions, kept after the end so retried messages still find their session.</summary>
    [Id(5)] public ImmutableDictionary<int, string> Transactions { get; init; } = ImmutableDictionary<int, string>.Empty;
    [Id(6)] public ImmutableList<UnreconciledMessage> Unreconciled { get; init; } = ImmutableList<UnreconciledMessage>.Empty;
    [Id(7)] public string? Vendor { get; init; }
    [Id(8)] public string? Model { get; init; }
    [Id(9)] public string? Firmware { get; init; }
    /// <summary>Every StartTransaction seen (connector|idTag|timestamp -> id): the same message again gets the same id.</summary>
    [Id(10)] public ImmutableDictionary<string, int> StartsSeen { get; init; } = ImmutableDictionary<string, int>.Empty;
}

[GenerateSerializer, Immutable]
public sealed record ConnectorRecord(
    [property: Id(0)] ConnectorStatus Status,
    [property: Id(1)] string? SessionId,
    [property: Id(2)] int? TransactionId,
    [property: Id(3)] string? ErrorCode);

[GenerateSerializer, Immutable]
public sealed record PendingAuthorization(
    [property: Id(0)] string SessionId,
    [property: Id(1)] int ConnectorId,
    [property: Id(2)] string PresentationHash,
    [property: Id(3)] DateTimeOffset CreatedAt,
    [property: Id(4)] int? TransactionId,
    [property: Id(5)] long HoldAmount);

/// <summary>
/// One grain per charger. It translates the charger's OCPP exchange into session operations: it opens a session
/// for a presented payment, issues transaction ids, routes meter values and stops to the session, and pushes
/// RemoteStopTransaction through the bridge link when the running cost reaches the hold.
/// </summary>
internal sealed class ChargerGrain(
    [PersistentState("charger", "evcharge")] IPersistentState<ChargerRecord> state,
    IOptions<EvChargeOptions> options,
    TimeProvider clock,
    ILogger<ChargerGrain> logger) : Grain, IChargerGrain
{
    private const int TransactionsKept = 64;
    private const int UnreconciledKept = 256;
    private readonly EvChargeOptions _options = options.Value;
    private IChargerLink? _link;
    private bool _linkIsConnection;
    private DateTimeOffset? _lastSeen;

    private ChargerRecord S => state.State;
    private string ChargerId => this.GetPrimaryKeyString();
    private DateTimeOffset Now => clock.GetUtcNow();

    async Task IChargerGrain.Register(ChargerRegistration registration)
    {
        if (registration.ConnectorCount is < 1 or > 16) throw new ArgumentOutOfRangeException(nameof(registration), "A charger has 1 to 16 connectors.");
        if (registration.HoldAmount < 0) throw new ArgumentOutOfRangeException(nameof(registration), "The hold amount cannot be negative.");
        if (registration.SecurityProfile is { } profile && !Enum.IsDefined(profile))
            throw new ArgumentOutOfRangeException(nameof(registration), "The security profile is 1, 2 or 3.");
        var connectors = S.Connectors;
        for (var c = 1; c <= registration.ConnectorCount; c++)
            if (!connectors.ContainsKey(c)) connectors = connectors.Add(c, new ConnectorRecord(ConnectorStatus.Available, null, null, null));
        // Passwords are machine-generated charger secrets; a salted SHA-256 keeps CONNECT storms cheap.
        var hash = registration.Password is { Length: > 0 } pw ? HashPassword(ChargerId, pw) : S.PasswordHash;
        await Save(S with { Registration = registration with { Password = null }, PasswordHash = hash, Connectors = connectors });
        await GrainFactory.GetGrain<ICpoGrain>(registration.CpoId).AddCharger(ChargerId);
    }

    Task<bool> IChargerGrain.CheckPassword(string password) =>
        Task.FromResult(S.PasswordHash is not null && CryptographicOperations.FixedTimeEquals(
            Encoding.UTF8.GetBytes(S.PasswordHash), Encoding.UTF8.GetBytes(HashPassword(ChargerId, password))));

    Task<ChargerView> IChargerGrain.GetView() => Task.FromResult(new ChargerView(
        ChargerId, S.Registration, _link is not null && _lastSeen is { } seen && Now - seen < TimeSpan.FromSeconds(_options.HeartbeatIntervalSeconds * 2.5),
        _lastSeen,
        S.Connectors.OrderBy(c => c.Key).Select(c => new ConnectorView(c.Key, c.Value.Status, c.Value.SessionId, c.Value.TransactionId, c.Value.ErrorCode)).ToList(),
        S.Vendor, S.Firmware));

    Task IChargerGrain.AttachLink(IChargerLink link) => Attach(link, connection: false);

    Task IChargerGrain.AttachConnection(IChargerLink connection) => Attach(connection, connection: true);

    Task IChargerGrain.DetachConnection(IChargerLink connection)
    {
        if (_link is { } current && current.Equals(connection))
        {
            _link = null;
            _linkIsConnection = false;
        }
        return Task.CompletedTask;
    }

    private Task Attach(IChargerLink link, bool connection)
    {
        // A charger is on one transport at a time. When a WebSocket connection takes the charger or loses it, the
        // other link hears of it: a stale connection closes, an MQTT bridge attaches again when the charger returns.
        // MQTT bridges sharing one broker replace each other silently: any of them can publish to the charger.
        if (_link is { } previous && (connection || _linkIsConnection) && !previous.Equals(link))
            previous.Released(ChargerId).Ignore();
        _link = link;
        _linkIsConnection = connection;
        _lastSeen = Now;
        return Task.CompletedTask;
    }

    async Task<BootResult> IChargerGrain.Boot(BootNotification boot)
    {
        _lastSeen = Now;
        if (S.Registration is null)
        {
            logger.LogWarning("BootNotification from unregistered charger {Charger}", ChargerId);
            return new BootResult(RegistrationStatus.Rejected, Now, _options.HeartbeatIntervalSeconds);
        }
        if (S.Vendor != boot.ChargePointVendor || S.Model != boot.ChargePointModel || S.Firmware != boot.FirmwareVersion)
            await Save(S with { Vendor = boot.ChargePointVendor, Model = boot.ChargePointModel, Firmware = boot.FirmwareVersion });
        return new BootResult(RegistrationStatus.Accepted, Now, _options.HeartbeatIntervalSeconds);
    }

    // Heartbeats only refresh the in-memory online status: writing storage 20,000 times a minute buys nothing.
    Task<DateTimeOffset> IChargerGrain.Heartbeat()
    {
        _lastSeen = Now;
        return Task.FromResult(Now);
    }

    Task IChargerGrain.StatusChanged(StatusNotification status)
    {
        _lastSeen = Now;
        if (status.ConnectorId == 0 || !S.Connectors.TryGetValue(status.ConnectorId, out var connector)) return Task.CompletedTask;
        var next = connector with { Status = status.Status, ErrorCode = status.ErrorCode == "NoError" ? null : status.ErrorCode };
        if (next == connector) return Task.CompletedTask;
        // Status is live information the charger re-sends after every boot: keep it in memory and let the next
        // write that matters (a session, a transaction) carry it to storage, instead of a write per notification.
        state.State = S with { Connectors = S.Connectors.SetItem(status.ConnectorId, next) };
        return Task.CompletedTask;
    }

    async Task<PaymentAuthorizationResult> IChargerGrain.AuthorizePayment(int connectorId, PaymentPresentation payment)
    {
        _lastSeen = Now;
        var registration = S.Registration;
        if (registration is null) return PaymentAuthorizationResult.Reject("charger_not_registered");
        if (!S.Connectors.TryGetValue(connectorId, out var connector)) return PaymentAuthorizationResult.Reject("unknown_connector");

        if (payment.VehicleId is { } vid) payment = payment with { VehicleId = vid.ToUpperInvariant() }; // EVCCIDs/MACs compare case-insensitively
        var presentation = PresentationHash(payment);
        if (connector.SessionId is { } open)
        {
            // The charger retried the DataTransfer whose answer it lost: give it the same answer.
            var same = S.ByIdTag.Values.FirstOrDefault(p => p.SessionId == open && p.PresentationHash == presentation);
            return same is not null
                ? new PaymentAuthorizationResult(AuthorizationStatus.Accepted, same.SessionId, same.SessionId, same.HoldAmount, null)
                : PaymentAuthorizationResult.Reject("connector_busy");
        }
        if (connector.Status is ConnectorStatus.Faulted or ConnectorStatus.Unavailable)
            return PaymentAuthorizationResult.Reject("connector_unavailable");

        var contract = await GrainFactory.GetGrain<ICpoGrain>(registration.CpoId).GetContract();
        var tariff = contract?.Tariffs.FirstOrDefault(t => t.TariffId == registration.TariffId);
        if (contract is null || tariff is null) return PaymentAuthorizationResult.Reject("tariff_not_configured");

        string? billingToken = null;
        var perChargeLimit = 0L;
        if (payment.VehicleId is { } vehicleId)
        {
            var binding = await GrainFactory.GetGrain<IVehicleBindingGrain>(vehicleId).ResolveForCharge(ChargerId);
            if (!binding.Accepted) return PaymentAuthorizationResult.Reject(binding.Reason ?? "vehicle_not_bound");
            billingToken = binding.BillingToken;
            perChargeLimit = binding.PerChargeLimit;
            payment = payment with { Provider = binding.Provider! };
        }
        else if (string.IsNullOrWhiteSpace(payment.PaymentCode))
        {
            return PaymentAuthorizationResult.Reject("payment_code_missing");
        }

        var hold = HoldPolicy.Resolve(registration.HoldAmount, null, _options.DefaultHoldAmount);
        if (perChargeLimit > 0) hold = Math.Min(hold, perChargeLimit); // a binding's per-charge limit caps the hold
        var sessionId = NewAuthorizationReference();
        var start = new SessionStart(ChargerId, connectorId, registration.CpoId, tariff, hold, contract.Commission,
            contract.PayeeAccount, _options.PlatformPayeeAccount, payment, sessionId, billingToken);
        var outcome = await GrainFactory.GetGrain<IChargingSessionGrain>(sessionId).Authorize(start);
        if (!outcome.Accepted)
        {
            if (payment.VehicleId is { } v) GrainFactory.GetGrain<IVehicleBindingGrain>(v).ChargeEnded(ChargerId).Ignore();
            return PaymentAuthorizationResult.Reject(outcome.Reason ?? "rejected");
        }

        await Save(S with
        {
            Connectors = S.Connectors.SetItem(connectorId, connector with { SessionId = sessionId, TransactionId = null }),
            ByIdTag = S.ByIdTag.SetItem(sessionId, new PendingAuthorization(sessionId, connectorId, presentation, Now, null, hold)),
        });
        return new PaymentAuthorizationResult(AuthorizationStatus.Accepted, sessionId, sessionId, hold, null);
    }

    async Task<IdTagInfo> IChargerGrain.Authorize(string idTag)
    {
        _lastSeen = Now;
        if (S.ByIdTag.ContainsKey(idTag)) return new IdTagInfo(IdTagStatus.Accepted);
        if (idTag.StartsWith("VID:", StringComparison.Ordinal))
        {
            // Seamless charging: the vehicle is the payment method. Authorize on the first free connector;
            // StartTransaction on a specific connector re-targets the session if needed.
            var free = S.Connectors.Where(c => c.Value.SessionId is null).OrderBy(c => c.Key).Select(c => c.Key).FirstOrDefault();
            if (free == 0) return new IdTagInfo(IdTagStatus.ConcurrentTx);
            var result = await ((IChargerGrain)this).AuthorizePayment(free, new PaymentPresentation("", null, idTag[4..]));
            return new IdTagInfo(result.Status == AuthorizationStatus.Accepted ? IdTagStatus.Accepted : IdTagStatus.Invalid);
        }
        return new IdTagInfo(IdTagStatus.Invalid);
    }

    async Task<StartTransactionResult> IChargerGrain.StartTransaction(StartTransaction start)
    {
        _lastSeen = Now;
        if (S.StartsSeen.TryGetValue(StartKey(start), out var seen)) // OCPP 1.6 §3.7: a retried start gets the same id
            return new StartTransactionResult(seen, new IdTagInfo(S.Transactions.ContainsKey(seen) ? IdTagStatus.Accepted : IdTagStatus.Invalid));
        if (!S.ByIdTag.TryGetValue(start.IdTag, out var pending) && start.IdTag.StartsWith("VID:", StringComparison.Ordinal))
        {
            // Seamless charging: the vehicle id is the idTag. Use the authorization its Authorize.req opened (or
            // the one a retried StartTransaction already used); plug-in without Authorize authorizes right here.
            var vehicleHash = $"vid:{start.IdTag[4..].ToUpperInvariant()}";
            pending = S.ByIdTag.Values.FirstOrDefault(p => p.PresentationHash == vehicleHash && (p.TransactionId is null || p.ConnectorId == start.ConnectorId));
            if (pending is null)
            {
                var result = await ((IChargerGrain)this).AuthorizePayment(start.ConnectorId, new PaymentPresentation("", null, start.IdTag[4..]));
                if (result.Status == AuthorizationStatus.Accepted) pending = S.ByIdTag.GetValueOrDefault(result.AuthorizationReference!);
            }
        }
        if (pending is null) return await RefuseStart(start, IdTagStatus.Invalid);
        if (pending.TransactionId is { } issued) return new StartTransactionResult(issued, new IdTagInfo(IdTagStatus.Accepted)); // a retried StartTransaction

        var transactionId = S.NextTransactionId;
        var started = await GrainFactory.GetGrain<IChargingSessionGrain>(pending.SessionId).Start(transactionId, start.MeterStartWh, start.Timestamp);
        if (!started)
        {
            await Save(S with { ByIdTag = S.ByIdTag.Remove(pending.SessionId), Connectors = ClearSession(S.Connectors, pending.SessionId) });
            return await RefuseStart(start, IdTagStatus.Expired);
        }

        var connectorId = pending.ConnectorId;
        var connector = S.Connectors[connectorId];
        await Save(S with
        {
            NextTransactionId = transactionId + 1,
            ByIdTag = S.ByIdTag.SetItem(pending.SessionId, pending with { TransactionId = transactionId }),
            Transactions = Trim(S.Transactions.SetItem(transactionId, pending.SessionId)),
            StartsSeen = Remember(S.StartsSeen, StartKey(start), transactionId),
            Connectors = S.Connectors.SetItem(connectorId, connector with { Status = ConnectorStatus.Charging, TransactionId = transactionId }),
        });
        return new StartTransactionResult(transactionId, new IdTagInfo(IdTagStatus.Accepted));
    }

    async Task IChargerGrain.MeterValues(MeterValues values)
    {
        _lastSeen = Now;
        var sessionId = values.TransactionId is { } tx
            ? S.Transactions.GetValueOrDefault(tx)
            : S.Connectors.GetValueOrDefault(values.ConnectorId)?.SessionId;
        if (sessionId is null)
        {
            if (values.TransactionId is { } unknown && values.Samples.Count > 0)
                await Keep(new UnreconciledMessage("MeterValues", unknown, values.Samples.Max(s => s.EnergyWh), values.Samples.Max(s => s.Timestamp), Now));
            return;
        }
        var progress = await GrainFactory.GetGrain<IChargingSessionGrain>(sessionId).AddMeterValues(values.Samples);
        if (progress.HoldReached && values.TransactionId is { } txId)
            await ((IChargerGrain)this).RemoteStop(txId, "hold_reached");
    }

    async Task<IdTagInfo?> IChargerGrain.StopTransaction(StopTransaction stop)
    {
        _lastSeen = Now;
        if (!S.Transactions.TryGetValue(stop.TransactionId, out var sessionId))
        {
            // OCPP 1.6 §3.7: confirm anyway (the charger would retry forever) and keep it for reconciliation.
            logger.LogWarning("StopTransaction for unknown transaction {Tx} on {Charger}", stop.TransactionId, ChargerId);
            await Keep(new UnreconciledMessage("StopTransaction", stop.TransactionId, stop.MeterStopWh, stop.Timestamp, Now));
            return null;
        }
        await GrainFactory.GetGrain<IChargingSessionGrain>(sessionId).Stop(new StopReport(stop.MeterStopWh, stop.Timestamp, stop.Reason, stop.TransactionData));
        var pending = S.ByIdTag.GetValueOrDefault(sessionId);
        if (pending is not null || S.Connectors.Values.Any(c => c.SessionId == sessionId))
        {
            await Save(S with { ByIdTag = S.ByIdTag.Remove(sessionId), Connectors = ClearSession(S.Connectors, sessionId, ConnectorStatus.Finishing) });
            if (pending is not null && SeamlessVehicle(pending) is { } vehicle)
                GrainFactory.GetGrain<IVehicleBindingGrain>(vehicle).ChargeEnded(ChargerId).Ignore();
        }
        return new IdTagInfo(IdTagStatus.Accepted);
    }

    async Task IChargerGrain.ReportFee(ChargerFeeReport report)
    {
        if (S.Transactions.TryGetValue(report.TransactionId, out var sessionId))
            await GrainFactory.GetGrain<IChargingSessionGrain>(sessionId).ReportChargerFee(report.Fee);
    }

    async Task<bool> IChargerGrain.RemoteStop(int transactionId, string reason)
    {
        if (_link is null)
        {
            logger.LogWarning("Cannot send RemoteStopTransaction to {Charger}: no bridge link", ChargerId);
            return false;
        }
        try
        {
            await _link.Send(ChargerId, new ChargerCommand("RemoteStopTransaction", JsonSerializer.Serialize(new { transactionId })));
            logger.LogInformation("RemoteStopTransaction {Tx} sent to {Charger} ({Reason})", transactionId, ChargerId, reason);
            return true;
        }
        catch (Exception ex)
        {
            logger.LogWarning(ex, "RemoteStopTransaction to {Charger} failed", ChargerId);
            _link = null;
            return false;
        }
    }

    async Task IChargerGrain.SessionEnded(string sessionId, int? transactionId)
    {
        var pending = S.ByIdTag.GetValueOrDefault(sessionId);
        if (pending is null && !S.Connectors.Values.Any(c => c.SessionId == sessionId)) return;
        await Save(S with { ByIdTag = S.ByIdTag.Remove(sessionId), Connectors = ClearSession(S.Connectors, sessionId) });
        if (pending is not null && SeamlessVehicle(pending) is { } vehicle)
            GrainFactory.GetGrain<IVehicleBindingGrain>(vehicle).ChargeEnded(ChargerId).Ignore();
    }

    Task<IReadOnlyList<UnreconciledMessage>> IChargerGrain.GetUnreconciled() =>
        Task.FromResult<IReadOnlyList<UnreconciledMessage>>(S.Unreconciled);

    private async Task<StartTransactionResult> RefuseStart(StartTransaction start, IdTagStatus status)
    {
        // The charger needs a transaction id even when refused; a retried refusal gets the same one.
        var transactionId = S.NextTransactionId;
        await Save(S with { NextTransactionId = transactionId + 1, StartsSeen = Remember(S.StartsSeen, StartKey(start), transactionId) });
        return new StartTransactionResult(transactionId, new IdTagInfo(status));
    }

    private async Task Keep(UnreconciledMessage message)
    {
        var list = S.Unreconciled.Add(message);
        if (list.Count > UnreconciledKept) list = list.RemoveRange(0, list.Count - UnreconciledKept);
        await Save(S with { Unreconciled = list });
    }

    private string? SeamlessVehicle(PendingAuthorization pending) =>
        pending.PresentationHash.StartsWith("vid:", StringComparison.Ordinal) ? pending.PresentationHash[4..] : null;

    private static ImmutableDictionary<int, ConnectorRecord> ClearSession(ImmutableDictionary<int, ConnectorRecord> connectors, string sessionId, ConnectorStatus? status = null)
    {
        foreach (var (id, c) in connectors)
            if (c.SessionId == sessionId)
                connectors = connectors.SetItem(id, c with { SessionId = null, TransactionId = null, Status = status ?? (c.Status == ConnectorStatus.Charging ? ConnectorStatus.Finishing : c.Status) });
        return connectors;
    }

    private static string StartKey(StartTransaction start) => $"{start.ConnectorId}|{start.IdTag}|{start.Timestamp.ToUnixTimeMilliseconds()}";

    /// <summary>Bounded memory of starts: the oldest (lowest transaction id) go first.</summary>
    private static ImmutableDictionary<string, int> Remember(ImmutableDictionary<string, int> seen, string key, int transactionId)
    {
        seen = seen.SetItem(key, transactionId);
        return seen.Count <= TransactionsKept ? seen : seen.RemoveRange(seen.OrderBy(p => p.Value).Take(seen.Count - TransactionsKept).Select(p => p.Key));
    }

    private static ImmutableDictionary<int, string> Trim(ImmutableDictionary<int, string> transactions) =>
        transactions.Count <= TransactionsKept ? transactions
            : transactions.RemoveRange(transactions.Keys.OrderBy(k => k).Take(transactions.Count - TransactionsKept));

    /// <summary>Payment codes are never stored in clear; vehicles are kept by id so bindings can be released.</summary>
    private static string PresentationHash(PaymentPresentation p) => p.VehicleId is { } v
        ? $"vid:{v}"
        : Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes($"{p.Provider}|{p.PaymentCode}")))[..24];

    private static string HashPassword(string chargerId, string password) =>
        Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes($"evcharge-charger|{chargerId}|{password}")));

    /// <summary>At most 20 characters, because OCPP 1.6 idTag is CiString20; it doubles as the session id.</summary>
    private static string NewAuthorizationReference()
    {
        Span<byte> bytes = stackalloc byte[10];
        RandomNumberGenerator.Fill(bytes);
        return "EV" + Convert.ToHexString(bytes)[..18];
    }

    private async Task Save(ChargerRecord next)
    {
        state.State = next;
        await state.WriteStateAsync();
    }
}
