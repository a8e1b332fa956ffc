using System.Diagnostics;
using EvCharge.Charging;
using EvCharge.Payments;
using EvCharge.Sessions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Serialization;

namespace EvCharge.Grains;

/// <summary>
/// One charge from authorization to settlement. The decisions are <see cref="SessionMachine.Decide"/>'s; this grain
/// runs them: each decision is written as one durable step (<see cref="ISessionStore"/>, group-committed with other
/// sessions' steps) before anything depends on it, then its provider call runs and the answer is decided on in turn.
/// The sweepers (<see cref="SessionSweeperGrain"/>) tick sessions whose due time has come: timeouts, retries, and
/// whatever a dead silo left in flight.
/// </summary>
internal sealed class ChargingSessionGrain(
    ISessionStore store,
    Serializer<SessionRecord> serializer,
    IPaymentGatewayRegistry gateways,
    IOptions<EvChargeOptions> options,
    TimeProvider clock,
    ILogger<ChargingSessionGrain> logger) : Grain, IChargingSessionGrain
{
    private readonly SessionRules _rules = SessionRules.From(options.Value);
    private SessionRecord _state = new();
    private long _version;
    private DateTimeOffset? _storedDue;
    private Task? _loaded;
    private IGrainTimer? _continuation;

    private SessionRecord S => _state;
    private string SessionId => this.GetPrimaryKeyString();
    private DateTimeOffset Now => clock.GetUtcNow();

    async Task<SessionAuthorization> IChargingSessionGrain.Authorize(SessionStart start)
    {
        // A fresh session id has nothing stored, so the first step is written without reading first; if a row does
        // exist (the charger's retry reached a new activation), the version check refuses the write and the stored
        // session answers instead.
        _loaded ??= Task.CompletedTask;
        await _loaded;
        try
        {
            await Run(new AuthorizeSession(start, RouteFor(start)));
        }
        catch (SessionVersionConflictException) when (_version == 0)
        {
            await Reload();
        }
        return SessionProjection.AuthorizationAnswer(S);
    }

    /// <summary>
    /// The gateway entry for the driver's wallet at this CPO (<c>Payments:Routes</c>) and what it can do; the session keeps
    /// both, so every later call of this charge goes to the same entry under the same rules.
    /// </summary>
    private PaymentRoute? RouteFor(SessionStart start) =>
        gateways.ResolveName(start.Payment.Provider, start.CpoId) is { } entry && gateways.TryGet(entry, out var gateway)
            ? PaymentRoute.For(entry, gateway.Capabilities)
            : null;

    async Task<bool> IChargingSessionGrain.Start(int transactionId, long meterStartWh, DateTimeOffset timestamp)
    {
        await Loaded();
        await Run(new StartCharging(transactionId, meterStartWh, timestamp));
        return S.State == SessionState.Charging && S.TransactionId == transactionId;
    }

    async Task<MeterProgress> IChargingSessionGrain.AddMeterValues(IReadOnlyList<MeterSample> samples)
    {
        await Loaded();
        return (await Run(new AddMeterSamples(samples), inline: false)).Progress!;
    }

    async Task<SessionView> IChargingSessionGrain.Stop(StopReport report)
    {
        await Loaded();
        // The charger's StopTransaction.conf must not wait on the wallet provider: the capture runs after the answer.
        await Run(new StopCharging(report), inline: false);
        return SessionProjection.View(SessionId, S);
    }

    async Task IChargingSessionGrain.ReportChargerFee(long fee)
    {
        await Loaded();
        await Run(new ReportChargerFee(fee), inline: false);
    }

    async Task<SessionView> IChargingSessionGrain.Cancel(string reason)
    {
        await Loaded();
        await Run(new CancelSession(reason));
        return SessionProjection.View(SessionId, S);
    }

    async Task<RefundOutcome> IChargingSessionGrain.Refund(long amount, string idempotencyKey, string? reason)
    {
        await Loaded();
        return (await Run(new RequestRefund(amount, idempotencyKey, reason))).Refund!;
    }

    async Task<SessionView> IChargingSessionGrain.Resume()
    {
        await Loaded();
        await Sweep(force: true);
        return SessionProjection.View(SessionId, S);
    }

    async Task IChargingSessionGrain.Tick()
    {
        await Loaded();
        await Sweep(force: false);
    }

    async Task<SessionView> IChargingSessionGrain.GetView()
    {
        await Loaded();
        return SessionProjection.View(SessionId, S);
    }

    private async Task Sweep(bool force)
    {
        var version = _version;
        await Run(new Tick(force));
        await Run(new TickRefunds(force));
        // Due, but nothing was due yet (an order lookup to repeat later, a row carried over by an upgrade): the row gets
        // its next due time, or none, so the sweepers do not find it again at once.
        if (!force && _version == version && _version > 0) await Persist(new SessionDecision(S with { }));
        DeactivateWhenFinished();
    }

    /// <summary>Finished sessions do not pile up in memory: a late request reloads the row.</summary>
    private void DeactivateWhenFinished()
    {
        if (S.IsTerminal && S.Refunds.All(r => r.Done)) DeactivateOnIdle();
    }

    /// <summary>
    /// Decides on the command, writes the decision as one step, tells whom it concerns, and follows its provider call
    /// with the answer (unless <paramref name="inline"/> is false: then the call runs right after the caller has its
    /// answer). Returns the last decision that answered the caller.
    /// </summary>
    private async Task<SessionDecision> Run(SessionCommand command, bool inline = true)
    {
        SessionDecision? answer = null;
        while (true)
        {
            var before = S;
            var decision = SessionMachine.Decide(SessionId, before, command, Now, _rules);
            try
            {
                await Persist(decision);
            }
            catch (LiveWalletConflictException) when (command is AuthorizeAnswered { Outcome.Approved: true } approved)
            {
                // The database's backstop saw another live session on the wallet: refuse and void, as the wallet grain would have.
                command = approved with { Claim = new HoldClaim(false, null, "wallet_has_open_session") };
                continue;
            }
            if (decision.Progress is not null || decision.Refund is not null || answer is null) answer = decision;
            Notify(decision, before);
            if (decision.Call is null) return answer;
            if (!inline)
            {
                ContinueAfterAnswer(decision.Call);
                return answer;
            }
            command = await Execute(decision.Call);
        }
    }

    private async Task Persist(SessionDecision decision)
    {
        var next = decision.Next;
        if (ReferenceEquals(next, S) && decision.Journals.Count == 0 && decision.NewSamples.Count == 0) return;
        var version = _version + 1;
        var head = SessionProjection.Head(SessionId, version, next, Now, _rules, _version == 0 ? null : (S.State, _storedDue));
        try
        {
            await store.CommitAsync(new SessionStep(head, serializer.SerializeToArray(next with { Samples = [] }), decision.NewSamples, decision.Journals));
        }
        catch (SessionVersionConflictException) when (_version > 0)
        {
            // Another activation (after a failover) moved the session on: this one's state is stale, the next call reloads.
            DeactivateOnIdle();
            throw;
        }
        var wasLive = SessionProjection.IsLive(S);
        var previous = S.State;
        _state = next;
        _version = version;
        _storedDue = head.DueAt;
        if (next.State != previous)
            EvChargeTelemetry.SessionTransitions.Add(1, new KeyValuePair<string, object?>("state", next.State.ToString()));
        if (wasLive && !SessionProjection.IsLive(next))
            GrainFactory.GetGrain<ISocialPaymentAccountGrain>(next.WalletKey!).ReleaseHold(SessionId).Ignore(); // one-way: derived from the row
        if (next.State == SessionState.Settled && previous != SessionState.Settled) EvChargeTelemetry.CapturedWon.Add(next.Captured);
    }

    private void Notify(SessionDecision decision, SessionRecord before)
    {
        if (decision.AttentionRaised is { } reason)
            logger.LogError("Session {Session} needs attention in {Step}: {Reason}", SessionId, S.AttentionStep, reason);
        if (S.Start is not { } start) return;
        var charger = GrainFactory.GetGrain<IChargerGrain>(start.ChargerId);
        // Fire-and-forget: the charger may be waiting on this very session.
        if (decision.RemoteStopReason is { } stop && S.TransactionId is { } tx) charger.RemoteStop(tx, stop).Ignore();
        if (decision.ChargerSessionEnded) charger.SessionEnded(SessionId, S.TransactionId).Ignore();
        if (before.State is SessionState.Charging or SessionState.Stopped && S.State == SessionState.Settling
            && S.Fee is { } fee && S.ChargerFee is { } reported && fee != reported)
            logger.LogWarning("Session {Session}: charger reported fee {Charger} KRW, server computed {Server} KRW; charging the server's", SessionId, reported, fee);
    }

    /// <summary>A timer continues the session after the caller's answer, in this grain's turn, as a new trace parented on the caller's.</summary>
    private void ContinueAfterAnswer(ProviderCall call)
    {
        var parent = Activity.Current?.Context;
        _continuation?.Dispose();
        _continuation = this.RegisterGrainTimer(async () =>
        {
            _continuation?.Dispose();
            _continuation = null;
            using var span = parent is { } p ? EvChargeTelemetry.Source.StartActivity("session.settle", ActivityKind.Internal, p) : null;
            span?.SetTag("evcharge.session", SessionId);
            await Run(await Execute(call));
            DeactivateWhenFinished();
        }, new GrainTimerCreationOptions(TimeSpan.Zero, Timeout.InfiniteTimeSpan));
    }

    /// <summary>Runs one provider call and turns its result into the command the machine decides on next.</summary>
    private async Task<SessionCommand> Execute(ProviderCall call)
    {
        if (!gateways.TryGet(call.Provider, out var gateway)) return new ProviderMissing(call.Kind, (call as RefundCall)?.RefundId);
        using var activity = EvChargeTelemetry.Source.StartActivity(SpanNames[(int)call.Kind]);
        activity?.SetTag("evcharge.session", SessionId);
        activity?.SetTag("evcharge.provider", call.Provider);
        try
        {
            switch (call)
            {
                case AuthorizeCall a:
                {
                    // The provider's budget ends before the charger's answer is due; an answer after it is voided at once.
                    using var budget = new CancellationTokenSource(_rules.AuthorizeBudget);
                    var started = Stopwatch.GetTimestamp();
                    AuthorizeOutcome outcome;
                    try
                    {
                        outcome = await gateway.AuthorizeAsync(a.Request, a.IdempotencyKey, budget.Token);
                    }
                    finally
                    {
                        EvChargeTelemetry.AuthorizationLatency.Record(Stopwatch.GetElapsedTime(started).TotalMilliseconds,
                            new KeyValuePair<string, object?>("provider", a.Provider));
                    }
                    // Only the session's first authorization claims the wallet and races the charger's answer; a re-send that
                    // resolves a lost answer and a long charge's rollover do neither.
                    var late = a.ClaimWallet && Now - S.LastActivity > _rules.AuthorizeBudget;
                    var claim = a.ClaimWallet && outcome.Approved && !late
                        ? await GrainFactory.GetGrain<ISocialPaymentAccountGrain>($"{a.Provider}:{outcome.WalletRef}").TryClaimHold(SessionId)
                        : null;
                    return new AuthorizeAnswered(outcome, claim, late);
                }
                case CaptureCall c:
                    return new CaptureAnswered(await gateway.CaptureAsync(c.Request, c.IdempotencyKey));
                case CaptureLookupCall l:
                    try { return new CaptureLookedUp(await gateway.GetAsync(l.AuthorizationId), l.RefusalCode); }
                    catch (PaymentProviderUnavailableException) { return new ProviderUnanswered(call.Kind, RefusalCode: l.RefusalCode); }
                case VoidCall v:
                    return new VoidAnswered(await gateway.VoidAsync(v.AuthorizationId, v.IdempotencyKey));
                case ResolveAuthorizeCall o:
                    try { return new AuthorizeResolved(await gateway.ResolveAuthorizeAsync(o.Request, o.IdempotencyKey)); }
                    catch (InvalidOperationException ex) // a lookup the provider refused: nothing is known yet, ask again later
                    {
                        logger.LogWarning(ex, "Session {Session}: resolving the authorization failed", SessionId);
                        return new ProviderUnanswered(call.Kind);
                    }
                case IncrementCall i:
                    return new IncrementAnswered(await gateway.IncrementAuthorizationAsync(i.Request, i.IdempotencyKey));
                case RefundCall r:
                    return new RefundAnswered(r.RefundId, await gateway.RefundAsync(r.Request, r.IdempotencyKey));
                default:
                    throw new ArgumentOutOfRangeException(nameof(call), call.GetType().Name, "not a provider call");
            }
        }
        catch (Exception ex) when (ex is PaymentProviderUnavailableException or OperationCanceledException)
        {
            if (call.Kind == ProviderCallKind.Capture) EvChargeTelemetry.CaptureFailures.Add(1, new KeyValuePair<string, object?>("kind", "unavailable"));
            logger.LogWarning(ex, "Session {Session}: {Call} unanswered; resumed with the same key", SessionId, call.Kind);
            return new ProviderUnanswered(call.Kind, (call as RefundCall)?.RefundId);
        }
    }

    private static readonly string[] SpanNames = Enum.GetNames<ProviderCallKind>()
        .Select(k => "session." + (k == nameof(ProviderCallKind.ResolveAuthorize) ? "resolve-authorize" : k == nameof(ProviderCallKind.CaptureLookup) ? "capture-lookup" : k.ToLowerInvariant()))
        .ToArray();

    private Task Loaded() => _loaded ??= Reload();

    private async Task Reload()
    {
        var stored = await store.LoadAsync(SessionId);
        if (stored is null) return;
        _state = serializer.Deserialize(stored.Body)! with { Samples = stored.Samples };
        _version = stored.Version;
        _storedDue = stored.DueAt;
    }
}
