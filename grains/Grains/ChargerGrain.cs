using System.Collections.Immutable;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using EvCharge.Charging;
using EvCharge.Domain;
using EvCharge.Ocpp;
using EvCharge.Sessions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EvCharge.Grains;

/// <summary>
/// What a charger grain stores: the operator's registration and the charger's identity, the transaction ids reserved
/// so far, and messages kept for reconciliation. Everything about live charges (connectors, idTags, transaction ids in
/// use) is derived from the charger's live sessions instead of being written on every charge.
/// </summary>
[GenerateSerializer]
public sealed record ChargerRecord
{
    // Ids 3, 4, 5 and 10 (connectors, idTags, transactions, starts seen) were stored by earlier versions; they are
    // rebuilt from the session rows now and their ids stay reserved.
    [Id(0)] public ChargerRegistration? Registration { get; init; }
    [Id(1)] public string? PasswordHash { get; init; }
    /// <summary>The first transaction id not yet reserved: ids are handed out from blocks reserved by one write each.</summary>
    [Id(2)] public int NextTransactionId { get; init; } = 1;
    [Id(6)] public ImmutableList<UnreconciledMessage> Unreconciled { get; init; } = ImmutableList<UnreconciledMessage>.Empty;
    [Id(7)] public string? Vendor { get; init; }
    [Id(8)] public string? Model { get; init; }
    [Id(9)] public string? Firmware { get; init; }
}

/// <summary>A payment this charger authorized and its session, until the transaction ends.</summary>
internal sealed record PendingAuthorization(string SessionId, int ConnectorId, string Presentation, DateTimeOffset CreatedAt, int? TransactionId, long HoldAmount);

/// <summary>
/// One grain per charger. It translates the charger's OCPP exchange into session operations: it opens a session for a
/// presented payment, issues transaction ids, routes meter values and stops to the session, and pushes
/// RemoteStopTransaction through the bridge link when the running cost reaches the hold. Its picture of live charges is
/// kept in memory and rebuilt from the session rows when it activates; nothing on the charge path writes the charger.
/// </summary>
internal sealed partial class ChargerGrain(
    [PersistentState("charger", "evcharge")] IPersistentState<ChargerRecord> state,
    ISessionStore sessions,
    IOptions<EvChargeOptions> options,
    TimeProvider clock,
    ILogger<ChargerGrain> logger) : Grain, IChargerGrain
{
    /// <summary>
    /// Recent transactions remembered per charger for retried StartTransactions and late messages; older ones are found
    /// in the session rows. Small, because an idle charger's memory is the fleet's memory (about 220 bytes each).
    /// </summary>
    private const int TransactionsKept = 8;
    private const int UnreconciledKept = 256;
    /// <summary>Transaction ids reserved per write; an activation that ends leaves the rest of its block unused.</summary>
    private const int TransactionIdBlock = 1_000;
    private readonly EvChargeOptions _options = options.Value;
    private readonly Dictionary<int, ConnectorView> _connectors = [];
    private readonly Dictionary<string, PendingAuthorization> _pending = [];
    /// <summary>Issued transaction ids -> sessions, kept after the end so retried messages still find their session.</summary>
    private readonly Dictionary<int, string> _transactions = [];
    /// <summary>Every StartTransaction seen (connector|idTag|timestamp -> id): the same message again gets the same id.</summary>
    private readonly Dictionary<string, int> _startsSeen = [];
    private int _nextTransactionId;
    private IChargerLink? _link;
    private bool _linkIsConnection;
    private DateTimeOffset? _lastSeen;

    private ChargerRecord S => state.State;
    private string ChargerId => this.GetPrimaryKeyString();
    private DateTimeOffset Now => clock.GetUtcNow();

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _nextTransactionId = S.NextTransactionId;
        SizeConnectors();
        if (S.Registration is null) return;
        foreach (var live in await sessions.LiveOnChargerAsync(ChargerId, cancellationToken))
        {
            _pending[live.SessionId] = new PendingAuthorization(live.SessionId, live.ConnectorId, live.Presentation ?? "", live.CreatedAt, live.TransactionId, live.HoldAmount);
            var status = live.State == SessionState.Charging ? ConnectorStatus.Charging : ConnectorStatus.Preparing;
            _connectors[live.ConnectorId] = new ConnectorView(live.ConnectorId, status, live.SessionId, live.TransactionId, null);
            if (live.TransactionId is { } tx) _transactions[tx] = live.SessionId;
        }
    }

    async Task IChargerGrain.Register(ChargerRegistration registration)
    {
        if (registration.ConnectorCount is < 1 or > 16) throw new ArgumentOutOfRangeException(nameof(registration), "A charger has 1 to 16 connectors.");
        if (registration.HoldAmount < 0) throw new ArgumentOutOfRangeException(nameof(registration), "The hold amount cannot be negative.");
        if (registration.SecurityProfile is { } profile && !Enum.IsDefined(profile))
            throw new ArgumentOutOfRangeException(nameof(registration), "The security profile is 1, 2 or 3.");
        // Passwords are machine-generated charger secrets; a salted SHA-256 keeps CONNECT storms cheap.
        var hash = registration.Password is { Length: > 0 } pw ? HashPassword(ChargerId, pw) : S.PasswordHash;
        await Save(S with { Registration = registration with { Password = null }, PasswordHash = hash });
        SizeConnectors();
        await GrainFactory.GetGrain<ICpoGrain>(registration.CpoId).AddCharger(ChargerId);
    }

    Task<bool> IChargerGrain.CheckPassword(string password) =>
        Task.FromResult(S.PasswordHash is not null && CryptographicOperations.FixedTimeEquals(
            Encoding.UTF8.GetBytes(S.PasswordHash), Encoding.UTF8.GetBytes(HashPassword(ChargerId, password))));

    Task<ChargerView> IChargerGrain.GetView() => Task.FromResult(new ChargerView(
        ChargerId, S.Registration, _link is not null && _lastSeen is { } seen && Now - seen < TimeSpan.FromSeconds(_options.HeartbeatIntervalSeconds * 2.5),
        _lastSeen, _connectors.Values.OrderBy(c => c.ConnectorId).ToList(), S.Vendor, S.Firmware));

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

    // Heartbeats and status only refresh memory: the charger re-sends its status after every boot.
    Task<DateTimeOffset> IChargerGrain.Heartbeat()
    {
        _lastSeen = Now;
        return Task.FromResult(Now);
    }

    Task IChargerGrain.StatusChanged(StatusNotification status)
    {
        _lastSeen = Now;
        if (_connectors.TryGetValue(status.ConnectorId, out var connector))
            _connectors[status.ConnectorId] = connector with { Status = status.Status, ErrorCode = status.ErrorCode == "NoError" ? null : status.ErrorCode };
        return Task.CompletedTask;
    }

    async Task<PaymentAuthorizationResult> IChargerGrain.AuthorizePayment(int connectorId, PaymentPresentation payment)
    {
        _lastSeen = Now;
        var registration = S.Registration;
        if (registration is null) return PaymentAuthorizationResult.Reject("charger_not_registered");
        if (!_connectors.TryGetValue(connectorId, out var connector)) return PaymentAuthorizationResult.Reject("unknown_connector");

        if (payment.VehicleId is { } vid) payment = payment with { VehicleId = vid.ToUpperInvariant() }; // EVCCIDs/MACs compare case-insensitively
        var presentation = SessionProjection.PresentationOf(payment);
        if (connector.SessionId is { } open && _pending.GetValueOrDefault(open) is { } holder)
        {
            // The charger retried the DataTransfer whose answer it lost: give it the same answer.
            if (holder.Presentation == presentation)
                return new PaymentAuthorizationResult(AuthorizationStatus.Accepted, holder.SessionId, holder.SessionId, holder.HoldAmount, null);
            if (!await StillLive(holder)) Forget(holder.SessionId);
            else return PaymentAuthorizationResult.Reject("connector_busy");
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
            contract.PayeeAccount, _options.PlatformPayeeAccount, payment, sessionId, billingToken, ChargeLimit: perChargeLimit);
        var outcome = await GrainFactory.GetGrain<IChargingSessionGrain>(sessionId).Authorize(start);
        if (!outcome.Accepted)
        {
            if (payment.VehicleId is { } v) GrainFactory.GetGrain<IVehicleBindingGrain>(v).ChargeEnded(ChargerId).Ignore();
            return PaymentAuthorizationResult.Reject(outcome.Reason ?? "rejected");
        }

        // The session's own row (live, this charger, this connector) is what a new activation rebuilds this from.
        _pending[sessionId] = new PendingAuthorization(sessionId, connectorId, presentation, Now, null, hold);
        _connectors[connectorId] = _connectors[connectorId] with { SessionId = sessionId, TransactionId = null };
        DriverIdentified(sessionId, payment, tariff, hold); // the price on the charger's display (ChargerGrain.PriceDisplay.cs)
        return new PaymentAuthorizationResult(AuthorizationStatus.Accepted, sessionId, sessionId, hold, null);
    }

    async Task<IdTagInfo> IChargerGrain.Authorize(string idTag)
    {
        _lastSeen = Now;
        if (_pending.ContainsKey(idTag)) return new IdTagInfo(IdTagStatus.Accepted);
        if (idTag.StartsWith("VID:", StringComparison.Ordinal))
        {
            // Seamless charging: the vehicle is the payment method. Authorize on the first free connector;
            // StartTransaction on a specific connector re-targets the session if needed.
            var free = _connectors.Values.Where(c => c.SessionId is null).OrderBy(c => c.ConnectorId).Select(c => c.ConnectorId).FirstOrDefault();
            if (free == 0) return new IdTagInfo(IdTagStatus.ConcurrentTx);
            var result = await ((IChargerGrain)this).AuthorizePayment(free, new PaymentPresentation("", null, idTag[4..]));
            return new IdTagInfo(result.Status == AuthorizationStatus.Accepted ? IdTagStatus.Accepted : IdTagStatus.Invalid);
        }
        return new IdTagInfo(IdTagStatus.Invalid);
    }

    async Task<StartTransactionResult> IChargerGrain.StartTransaction(StartTransaction start)
    {
        _lastSeen = Now;
        if (_startsSeen.TryGetValue(StartKey(start), out var seen)) // OCPP 1.6 §3.7: a retried start gets the same id
            return new StartTransactionResult(seen, new IdTagInfo(_transactions.ContainsKey(seen) ? IdTagStatus.Accepted : IdTagStatus.Invalid));
        if (!_pending.TryGetValue(start.IdTag, out var pending) && start.IdTag.StartsWith("VID:", StringComparison.Ordinal))
        {
            // Seamless charging: the vehicle id is the idTag. Use the authorization its Authorize.req opened (or
            // the one a retried StartTransaction already used); plug-in without Authorize authorizes right here.
            var vehicle = $"vid:{start.IdTag[4..].ToUpperInvariant()}";
            pending = _pending.Values.FirstOrDefault(p => p.Presentation == vehicle && (p.TransactionId is null || p.ConnectorId == start.ConnectorId));
            if (pending is null)
            {
                var result = await ((IChargerGrain)this).AuthorizePayment(start.ConnectorId, new PaymentPresentation("", null, start.IdTag[4..]));
                if (result.Status == AuthorizationStatus.Accepted) pending = _pending.GetValueOrDefault(result.AuthorizationReference!);
            }
        }
        if (pending is null) return await RefuseStart(start, IdTagStatus.Invalid, null);
        if (pending.TransactionId is { } issued) return new StartTransactionResult(issued, new IdTagInfo(IdTagStatus.Accepted)); // a retried StartTransaction

        var transactionId = await ReserveTransactionId();
        var started = await GrainFactory.GetGrain<IChargingSessionGrain>(pending.SessionId).Start(transactionId, start.MeterStartWh, start.Timestamp);
        if (!started)
        {
            Forget(pending.SessionId);
            return await RefuseStart(start, IdTagStatus.Expired, transactionId);
        }

        _pending[pending.SessionId] = pending with { TransactionId = transactionId };
        Remember(_transactions, transactionId, pending.SessionId);
        Remember(_startsSeen, StartKey(start), transactionId);
        _connectors[pending.ConnectorId] = _connectors[pending.ConnectorId] with { Status = ConnectorStatus.Charging, TransactionId = transactionId };
        TransactionStarted(pending.SessionId, transactionId, start); // remote start done; first RunningCost
        return new StartTransactionResult(transactionId, new IdTagInfo(IdTagStatus.Accepted));
    }

    async Task IChargerGrain.MeterValues(MeterValues values)
    {
        _lastSeen = Now;
        var sessionId = values.TransactionId is { } tx
            ? await SessionOf(tx)
            : _connectors.GetValueOrDefault(values.ConnectorId)?.SessionId;
        if (sessionId is null)
        {
            if (values.TransactionId is { } unknown && values.Samples.Count > 0)
                await Keep(new UnreconciledMessage("MeterValues", unknown, values.Samples.Max(s => s.EnergyWh), values.Samples.Max(s => s.Timestamp), Now));
            return;
        }
        var progress = await GrainFactory.GetGrain<IChargingSessionGrain>(sessionId).AddMeterValues(values.Samples);
        if (progress.HoldReached && values.TransactionId is { } txId)
            await ((IChargerGrain)this).RemoteStop(txId, "hold_reached");
        MeterProgressed(sessionId, values, progress);
    }

    async Task<IdTagInfo?> IChargerGrain.StopTransaction(StopTransaction stop)
    {
        _lastSeen = Now;
        if (await SessionOf(stop.TransactionId) is not { } sessionId)
        {
            // OCPP 1.6 §3.7: confirm anyway (the charger would retry forever) and keep it for reconciliation.
            logger.LogWarning("StopTransaction for unknown transaction {Tx} on {Charger}", stop.TransactionId, ChargerId);
            await Keep(new UnreconciledMessage("StopTransaction", stop.TransactionId, stop.MeterStopWh, stop.Timestamp, Now));
            return null;
        }
        var stopped = await GrainFactory.GetGrain<IChargingSessionGrain>(sessionId).Stop(new StopReport(stop.MeterStopWh, stop.Timestamp, stop.Reason, stop.TransactionData));
        Forget(sessionId, ConnectorStatus.Finishing);
        TransactionStopped(stop.TransactionId, stopped);
        return new IdTagInfo(IdTagStatus.Accepted);
    }

    async Task IChargerGrain.ReportFee(ChargerFeeReport report)
    {
        if (await SessionOf(report.TransactionId) is { } sessionId)
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

    Task IChargerGrain.SessionEnded(string sessionId, int? transactionId)
    {
        Forget(sessionId);
        return Task.CompletedTask;
    }

    Task<IReadOnlyList<UnreconciledMessage>> IChargerGrain.GetUnreconciled() =>
        Task.FromResult<IReadOnlyList<UnreconciledMessage>>(S.Unreconciled);

    /// <summary>The session a transaction id belongs to: from memory, or (a retry reaching a fresh activation) from the session rows.</summary>
    private async ValueTask<string?> SessionOf(int transactionId)
    {
        if (_transactions.TryGetValue(transactionId, out var sessionId)) return sessionId;
        if (transactionId <= 0 || transactionId >= S.NextTransactionId) return null; // never issued here
        sessionId = await sessions.FindByTransactionAsync(ChargerId, transactionId);
        if (sessionId is not null) Remember(_transactions, transactionId, sessionId);
        return sessionId;
    }

    /// <summary>
    /// A connector held by an authorization older than the start timeout: the session's one-way "ended" message may
    /// have been lost with a silo, so its row decides.
    /// </summary>
    private async Task<bool> StillLive(PendingAuthorization holder)
    {
        if (holder.TransactionId is not null || Now - holder.CreatedAt < _options.StartTimeout + _options.WatchdogPeriod) return true;
        return (await sessions.LiveOnChargerAsync(ChargerId)).Any(s => s.SessionId == holder.SessionId);
    }

    private void Forget(string sessionId, ConnectorStatus? status = null)
    {
        if (_pending.Remove(sessionId, out var pending) && SeamlessVehicle(pending) is { } vehicle)
            GrainFactory.GetGrain<IVehicleBindingGrain>(vehicle).ChargeEnded(ChargerId).Ignore();
        foreach (var c in _connectors.Values.Where(c => c.SessionId == sessionId).ToList())
            _connectors[c.ConnectorId] = c with
            {
                SessionId = null, TransactionId = null,
                Status = status ?? (c.Status == ConnectorStatus.Charging ? ConnectorStatus.Finishing : c.Status),
            };
    }

    private async ValueTask<int> ReserveTransactionId()
    {
        if (_nextTransactionId >= S.NextTransactionId)
        {
            _nextTransactionId = Math.Max(_nextTransactionId, S.NextTransactionId);
            await Save(S with { NextTransactionId = _nextTransactionId + TransactionIdBlock });
        }
        return _nextTransactionId++;
    }

    private async Task<StartTransactionResult> RefuseStart(StartTransaction start, IdTagStatus status, int? reserved)
    {
        // The charger needs a transaction id even when refused; a retried refusal gets the same one.
        var transactionId = reserved ?? await ReserveTransactionId();
        Remember(_startsSeen, StartKey(start), transactionId);
        return new StartTransactionResult(transactionId, new IdTagInfo(status));
    }

    private async Task Keep(UnreconciledMessage message)
    {
        var list = S.Unreconciled.Add(message);
        if (list.Count > UnreconciledKept) list = list.RemoveRange(0, list.Count - UnreconciledKept);
        await Save(S with { Unreconciled = list });
    }

    private void SizeConnectors()
    {
        var count = S.Registration?.ConnectorCount ?? 0;
        for (var c = 1; c <= count; c++)
            if (!_connectors.ContainsKey(c)) _connectors[c] = new ConnectorView(c, ConnectorStatus.Available, null, null, null);
    }

    private static string? SeamlessVehicle(PendingAuthorization pending) =>
        pending.Presentation.StartsWith("vid:", StringComparison.Ordinal) ? pending.Presentation[4..] : null;

    private static string StartKey(StartTransaction start) => $"{start.ConnectorId}|{start.IdTag}|{start.Timestamp.ToUnixTimeMilliseconds()}";

    /// <summary>Bounded memory: the oldest (lowest transaction id) go first.</summary>
    private static void Remember<TKey>(Dictionary<TKey, int> map, TKey key, int transactionId) where TKey : notnull
    {
        map[key] = transactionId;
        if (map.Count > TransactionsKept) map.Remove(map.MinBy(p => p.Value).Key);
    }

    private static void Remember(Dictionary<int, string> map, int transactionId, string sessionId)
    {
        map[transactionId] = sessionId;
        if (map.Count > TransactionsKept) map.Remove(map.Keys.Min());
    }

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
