using EvCharge.Charging;
using EvCharge.Grains;
using EvCharge.Ledger;
using EvCharge.Payments;
using EvCharge.Sessions;

namespace EvCharge.UnitTests.Sessions;

/// <summary>What the harness does to the next provider call: answer it, lose it before it runs, or run it and lose the answer.</summary>
public enum Fault { None, Unanswered, AnswerLost }

/// <summary>
/// A wallet provider as a pure model: holds (or deposits), captures with splits, voids, refunds, increments, lookups,
/// and idempotency keys that replay the first answer. What real providers (and the sandbox) promise, without HTTP.
/// The capabilities are switches: <see cref="Funds"/> (hold, or approve-then-partial-cancel: the money moves at
/// authorize and capture cancels the difference), <see cref="Incremental"/>, <see cref="Payees"/> (split at capture,
/// payouts only to some payees, or none), and <see cref="CannotResolveSaved"/> (KakaoPay: a saved-credential payment whose
/// answer was lost cannot be looked up, and is never sent again).
/// </summary>
public sealed class ProviderModel
{
    public sealed class Hold
    {
        public required string Id { get; init; }
        public required string Order { get; init; }
        public required long Amount { get; set; }
        public required DateTimeOffset? ExpiresAt { get; set; }
        public ProviderAuthorizationStatus Status { get; set; } = ProviderAuthorizationStatus.Authorized;
        public long Captured { get; set; }
        public long Refunded { get; set; }
        /// <summary>Deposit providers: what the driver's card was charged and has not been given back (deposit − cancels − refunds).</summary>
        public long Charged { get; set; }
        public int Captures { get; set; }
        public string? PaymentId { get; set; }
        public List<Remittance> Remittances { get; } = [];
    }

    private readonly Dictionary<string, object> _answers = [];
    private readonly HashSet<string> _inDoubt = [];
    public Dictionary<string, Hold> Holds { get; } = [];
    public int Executions(string operation) => _executions.GetValueOrDefault(operation);
    private readonly Dictionary<string, int> _executions = [];
    public bool Decline { get; set; }
    public FundsModel Funds { get; set; } = FundsModel.Hold;
    public bool Incremental { get; set; }
    /// <summary>Increments are refused (a card not eligible): the session must roll over or stop.</summary>
    public bool RefuseIncrements { get; set; }
    public PayeeSettlement Payees { get; set; } = PayeeSettlement.AtCapture;
    /// <summary>Payees the provider cannot pay (no connected account / seller): missing from the capture's remittances.</summary>
    public HashSet<string> Unpayable { get; } = [];
    public bool CannotResolveSaved { get; set; }
    public TimeSpan? HoldLifetime { get; set; }
    public DateTimeOffset Now { get; set; }

    public ProviderCapabilities Capabilities => new(true, Payees != PayeeSettlement.OwnLedger, true, HoldLifetime ?? TimeSpan.FromDays(7))
    {
        Funds = Funds, IncrementalAuthorization = Incremental, Payees = Payees, ProviderIdempotencyKeys = !CannotResolveSaved,
    };

    private T Once<T>(string key, string operation, Func<T> run) where T : notnull
    {
        if (_answers.TryGetValue(key, out var first)) return (T)first;
        _executions[operation] = Executions(operation) + 1;
        var answer = run();
        _answers[key] = answer;
        return answer;
    }

    /// <summary>Null: the adapter refuses to send a saved-credential payment whose first attempt is in doubt (KakaoPay).</summary>
    public AuthorizeOutcome? Authorize(AuthorizeRequest r, string key)
    {
        if (_inDoubt.Contains(key)) return null;
        return Once(key, "authorize", () =>
        {
            if (Decline) return AuthorizeOutcome.Decline("insufficient_funds", "declined");
            var hold = new Hold { Id = $"auth_{Holds.Count + 1}", Order = r.OrderId, Amount = r.Amount, ExpiresAt = Now + HoldLifetime, Charged = Funds == FundsModel.Hold ? 0 : r.Amount };
            Holds[hold.Id] = hold;
            return new AuthorizeOutcome(true, hold.Id, "w1", r.Amount, hold.ExpiresAt, null, null);
        });
    }

    /// <summary>A fault hit an authorize: a KakaoPay-like adapter then cannot tell, for a saved credential, what happened.</summary>
    public void LostAuthorize(AuthorizeRequest r, string key)
    {
        if (CannotResolveSaved && r.BillingToken is not null) _inDoubt.Add(key);
    }

    public AuthorizeResolution Resolve(AuthorizeRequest r, string key)
    {
        if (_inDoubt.Contains(key)) return AuthorizeResolution.Unknown("a saved-credential payment was sent and its answer lost");
        if (_answers.TryGetValue(key, out var first))
            return first is AuthorizeOutcome { Approved: true } o ? AuthorizeResolution.Found(Get(o.AuthorizationId!)!) : AuthorizeResolution.None;
        return AuthorizeResolution.None;
    }

    public CaptureOutcome Capture(CaptureRequest r, string key) => Once(key, "capture", () =>
    {
        var hold = Holds[r.AuthorizationId];
        if (hold.Status != ProviderAuthorizationStatus.Authorized) return new CaptureOutcome(false, null, 0, 0, [], "authorization_not_open", null);
        if (r.Amount > hold.Amount) return new CaptureOutcome(false, null, 0, 0, [], "amount_exceeds_hold", null);
        hold.Status = ProviderAuthorizationStatus.Captured;
        hold.Captured = r.Amount;
        hold.Captures++;
        if (Funds == FundsModel.ApproveThenPartialCancel) hold.Charged = r.Amount; // the difference is cancelled back to the card
        hold.PaymentId = "pay_" + hold.Id;
        if (Payees != PayeeSettlement.OwnLedger)
            hold.Remittances.AddRange(r.Splits.Where(s => !Unpayable.Contains(s.PayeeAccount)).Select(s => new Remittance(s.PayeeAccount, s.Amount)));
        return new CaptureOutcome(true, hold.PaymentId, r.Amount, hold.Amount - r.Amount, hold.Remittances.ToList(), null, null);
    });

    public IncrementOutcome Increment(IncrementRequest r, string key)
    {
        if (!Incremental) return IncrementOutcome.NotSupported;
        return Once(key, "increment", () =>
        {
            var hold = Holds[r.AuthorizationId];
            if (RefuseIncrements) return new IncrementOutcome(false, 0, null, "incremental_authorization_not_available", null);
            if (hold.Status != ProviderAuthorizationStatus.Authorized || r.NewAmount <= hold.Amount)
                return new IncrementOutcome(false, 0, null, "payment_intent_unexpected_state", null);
            hold.Amount = r.NewAmount;
            return new IncrementOutcome(true, hold.Amount, hold.ExpiresAt, null, null);
        });
    }

    public VoidOutcome Void(string authorizationId, string key) => Once(key, "void", () =>
    {
        var hold = Holds[authorizationId];
        if (hold.Status == ProviderAuthorizationStatus.Expired) return new VoidOutcome(false, "authorization_expired", null);
        if (hold.Status != ProviderAuthorizationStatus.Authorized) return new VoidOutcome(false, "already_" + hold.Status.ToString().ToLowerInvariant(), null);
        hold.Status = ProviderAuthorizationStatus.Voided;
        hold.Charged = 0;
        return new VoidOutcome(true, null, null);
    });

    public RefundResult Refund(RefundRequest r, string key) => Once(key, "refund", () =>
    {
        var hold = Holds.Values.Single(h => h.PaymentId == r.PaymentId);
        if (r.Amount > hold.Captured - hold.Refunded) return new RefundResult(false, null, r.Amount, "refund_exceeds_captured", null);
        hold.Refunded += r.Amount;
        if (Funds == FundsModel.ApproveThenPartialCancel) hold.Charged -= r.Amount;
        hold.Status = hold.Refunded == hold.Captured ? ProviderAuthorizationStatus.Refunded : ProviderAuthorizationStatus.PartiallyRefunded;
        return new RefundResult(true, $"re_{key}", r.Amount, null, null);
    });

    /// <summary>The provider lets an open hold lapse (a deposit never does: the money has moved).</summary>
    public void Expire(Hold hold)
    {
        hold.Status = ProviderAuthorizationStatus.Expired;
        hold.Charged = 0;
    }

    public ProviderAuthorization? Get(string authorizationId) => Holds.TryGetValue(authorizationId, out var h) ? View(h) : null;

    private static ProviderAuthorization View(Hold h) =>
        new(h.Id, h.Order, "w1", h.Amount, h.Status, h.Captured, h.Refunded, h.PaymentId, h.Remittances.ToList(), null, h.ExpiresAt);
}

/// <summary>
/// Runs <see cref="SessionMachine.Decide"/> the way the grain does (decide, keep the step, run its call, decide on the
/// answer) against <see cref="ProviderModel"/>, with faults chosen by the test, and keeps the ledger the steps post.
/// </summary>
public sealed class SessionHarness
{
    public const string Id = "EVTEST0000000000001";
    public static readonly DateTimeOffset T0 = new(2026, 11, 25, 1, 0, 0, TimeSpan.Zero);
    public static readonly SessionRules Rules = new(
        StartTimeout: TimeSpan.FromMinutes(5), StopTimeout: TimeSpan.FromHours(2), WatchdogPeriod: TimeSpan.FromMinutes(1),
        MaxSettlementAttempts: 5, HoldRefreshBefore: TimeSpan.FromHours(12), HoldStopMarginBasisPoints: 500, AuthorizeBudget: TimeSpan.FromSeconds(20),
        MaxSessionAmount: 200_000);

    public static SessionStart Start(long hold = 30_000, Tariff? tariff = null, string? billingToken = null, long chargeLimit = 0) => new(
        "CP-1", 1, "cpo-1", tariff ?? Tariff.Flat("std", 300), hold, new Commission(1_000, 0), "cpo-1-settlement", "platform-operator",
        new PaymentPresentation("kakaopay", billingToken is null ? "code-1" : null, billingToken is null ? null : "VEHICLE1"), Id, billingToken, ChargeLimit: chargeLimit);

    public SessionRecord State { get; private set; } = new();
    public ProviderModel Provider { get; } = new();
    private DateTimeOffset _now = T0;
    public DateTimeOffset Now { get => _now; set { _now = value; Provider.Now = value; } }
    /// <summary>Journals by key, as the ledger keeps them: a replayed key posts nothing.</summary>
    public Dictionary<string, Journal> Ledger { get; } = [];
    public List<SessionDecision> Decisions { get; } = [];
    public List<MeterSample> StoredSamples { get; } = [];
    /// <summary>Faults for the next provider calls, in order; when empty, calls are answered.</summary>
    public Queue<Fault> Faults { get; } = new();
    public bool WalletBusy { get; set; }
    /// <summary>Every provider call the session made, in order (to check keys and that nothing is sent under a new key).</summary>
    public List<ProviderCall> Calls { get; } = [];

    public SessionHarness() => Provider.Now = T0;

    /// <summary>The route the grain would resolve for the model's capabilities.</summary>
    public PaymentRoute Route => PaymentRoute.For("kakaopay", Provider.Capabilities);

    /// <summary>Authorizes as a grain with a resolved route does.</summary>
    public SessionDecision Authorize(SessionStart start) => Run(new AuthorizeSession(start, Route));

    /// <summary>Decides on the command and follows every provider call to its answer; returns the first decision.</summary>
    public SessionDecision Run(SessionCommand command)
    {
        SessionDecision? first = null;
        for (var guard = 0; guard < 30; guard++)
        {
            var decision = SessionMachine.Decide(Id, State, command, Now, Rules);
            first ??= decision;
            Decisions.Add(decision);
            State = decision.Next;
            StoredSamples.AddRange(decision.NewSamples);
            foreach (var j in decision.Journals) Ledger.TryAdd(j.Key, j);
            if (decision.Call is null) return first;
            Calls.Add(decision.Call);
            command = Execute(decision.Call);
        }
        throw new InvalidOperationException("a command did not settle within 30 provider calls");
    }

    public SessionDecision Sweep(bool force = false)
    {
        var first = Run(new Tick(force));
        Run(new TickRefunds(force));
        return first;
    }

    private SessionCommand Execute(ProviderCall call)
    {
        var fault = Faults.Count > 0 ? Faults.Dequeue() : Fault.None;
        SessionCommand Lost() => new ProviderUnanswered(call.Kind, (call as RefundCall)?.RefundId, (call as CaptureLookupCall)?.RefusalCode);
        if (fault == Fault.Unanswered)
        {
            if (call is AuthorizeCall lostBefore) Provider.LostAuthorize(lostBefore.Request, lostBefore.IdempotencyKey);
            return Lost();
        }
        SessionCommand answer;
        switch (call)
        {
            case AuthorizeCall a:
                var o = Provider.Authorize(a.Request, a.IdempotencyKey);
                if (o is null) return Lost(); // in doubt and not sent again
                var claim = a.ClaimWallet && o.Approved ? new HoldClaim(!WalletBusy, null, WalletBusy ? "wallet_has_open_session" : null) : null;
                answer = new AuthorizeAnswered(o, claim, false);
                if (fault == Fault.AnswerLost) Provider.LostAuthorize(a.Request, a.IdempotencyKey);
                break;
            case ResolveAuthorizeCall r: answer = new AuthorizeResolved(Provider.Resolve(r.Request, r.IdempotencyKey)); break;
            case IncrementCall i: answer = new IncrementAnswered(Provider.Increment(i.Request, i.IdempotencyKey)); break;
            case CaptureCall c: answer = new CaptureAnswered(Provider.Capture(c.Request, c.IdempotencyKey)); break;
            case CaptureLookupCall l: answer = new CaptureLookedUp(Provider.Get(l.AuthorizationId), l.RefusalCode); break;
            case VoidCall v: answer = new VoidAnswered(Provider.Void(v.AuthorizationId, v.IdempotencyKey)); break;
            case RefundCall r: answer = new RefundAnswered(r.RefundId, Provider.Refund(r.Request, r.IdempotencyKey)); break;
            default: throw new ArgumentOutOfRangeException(nameof(call));
        }
        return fault == Fault.AnswerLost ? Lost() : answer;
    }

    public long Posted(JournalKind kind) => Ledger.Values.Where(j => j.Kind == kind).Sum(j => j.Total);
    public long Posted(params JournalKind[] kinds) => Ledger.Values.Where(j => kinds.Contains(j.Kind)).Sum(j => j.Total);
    public bool HasJournal(JournalKind kind) => Ledger.Values.Any(j => j.Kind == kind);

    /// <summary>
    /// The money invariants of design §6, per authorization (each is its own ledger scope), over this session's ledger
    /// and the provider's record: every journal balances; captured ≤ authorized; each hold or deposit resolves once
    /// (capture, void or expire); the rest is released, or cancelled for a deposit; splits (remitted or owed) sum to
    /// the capture; refunds ≤ capture and reversed in full; ledger and provider agree on what moved; no authorization
    /// captured twice; the journal kinds say what the provider really did.
    /// </summary>
    public void AssertMoneyInvariants()
    {
        foreach (var j in Ledger.Values) Assert.Equal(0, j.Lines.Sum(l => l.Amount)); // every journal balances
        var deposit = Provider.Funds == FundsModel.ApproveThenPartialCancel && State.Route is not null;
        foreach (var scope in Ledger.Values.GroupBy(j => j.SessionId))
        {
            long Sum(params JournalKind[] kinds) => scope.Where(j => kinds.Contains(j.Kind)).Sum(j => j.Total);
            int Count(params JournalKind[] kinds) => scope.Count(j => kinds.Contains(j.Kind));
            Assert.True(Count(JournalKind.Hold, JournalKind.Deposit) <= 1, $"{scope.Key}: booked twice");
            var held = Sum(JournalKind.Hold, JournalKind.Deposit, JournalKind.HoldIncrement);
            var captured = Sum(JournalKind.Capture);
            Assert.True(captured <= held, $"{scope.Key}: captured {captured} > authorized {held}");
            Assert.True(Count(JournalKind.Capture, JournalKind.Void, JournalKind.Expire) <= 1, $"{scope.Key}: resolved more than once");
            if (captured > 0)
            {
                Assert.Equal(captured, Sum(JournalKind.Remit, JournalKind.Payable)); // splits sum to the capture
                Assert.Equal(held - captured, Sum(JournalKind.Release, JournalKind.PartialCancel));
            }
            Assert.True(Sum(JournalKind.Refund) <= captured, $"{scope.Key}: refunded more than captured");
            Assert.Equal(Sum(JournalKind.Refund), Sum(JournalKind.RefundReversal));
            // What the ledger calls it is what the provider did: a deposit is charged and partly cancelled, a hold held and released.
            Assert.Equal(0, deposit ? Count(JournalKind.Hold, JournalKind.Release) : Count(JournalKind.Deposit, JournalKind.PartialCancel));
        }
        if (Provider.Payees == PayeeSettlement.OwnLedger && State.Route is not null) Assert.False(HasJournal(JournalKind.Remit));
        // The ledger and the provider agree on what moved.
        Assert.Equal(Provider.Holds.Values.Sum(h => h.Captured), Posted(JournalKind.Capture));
        Assert.Equal(Provider.Holds.Values.Sum(h => h.Refunded), Posted(JournalKind.Refund));
        Assert.All(Provider.Holds.Values, h => Assert.True(h.Captures <= 1, $"{h.Id} captured twice at the provider"));
        foreach (var hold in Provider.Holds.Values)
        {
            var booked = Ledger.Values.Where(j => j.Kind is JournalKind.Hold or JournalKind.Deposit && j.Reference == hold.Id).ToList();
            if (booked.Count == 0) continue;
            var increments = Ledger.Values.Where(j => j.Kind == JournalKind.HoldIncrement && j.Reference == hold.Id).Sum(j => j.Total);
            Assert.Equal(hold.Amount, booked.Single().Total + increments); // the ledger holds what the provider holds
        }
        Assert.Equal(State.Captured, Posted(JournalKind.Capture));
    }
}
