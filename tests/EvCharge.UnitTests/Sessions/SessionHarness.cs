using EvCharge.Charging;
using EvCharge.Grains;
using EvCharge.Ledger;
using EvCharge.Payments;
using EvCharge.Sessions;

namespace EvCharge.UnitTests.Sessions;

/// <summary>What the harness does to the next provider call: answer it, lose it before it runs, or run it and lose the answer.</summary>
public enum Fault { None, Unanswered, AnswerLost }

/// <summary>
/// A wallet provider as a pure model: holds, captures with splits, voids, refunds, lookups, and idempotency keys that
/// replay the first answer. What real providers (and the sandbox) promise, without HTTP.
/// </summary>
public sealed class ProviderModel
{
    public sealed class Hold
    {
        public required string Id { get; init; }
        public required string Order { get; init; }
        public required long Amount { get; init; }
        public ProviderAuthorizationStatus Status { get; set; } = ProviderAuthorizationStatus.Authorized;
        public long Captured { get; set; }
        public long Refunded { get; set; }
        public string? PaymentId { get; set; }
        public List<Remittance> Remittances { get; } = [];
    }

    private readonly Dictionary<string, object> _answers = [];
    public Dictionary<string, Hold> Holds { get; } = [];
    public int Executions(string operation) => _executions.GetValueOrDefault(operation);
    private readonly Dictionary<string, int> _executions = [];
    public bool Decline { get; set; }

    private T Once<T>(string key, string operation, Func<T> run) where T : notnull
    {
        if (_answers.TryGetValue(key, out var first)) return (T)first;
        _executions[operation] = Executions(operation) + 1;
        var answer = run();
        _answers[key] = answer;
        return answer;
    }

    public AuthorizeOutcome Authorize(AuthorizeRequest r, string key) => Once(key, "authorize", () =>
    {
        if (Decline) return AuthorizeOutcome.Decline("insufficient_funds", "declined");
        var hold = new Hold { Id = $"auth_{Holds.Count + 1}", Order = r.OrderId, Amount = r.Amount };
        Holds[hold.Id] = hold;
        return new AuthorizeOutcome(true, hold.Id, "w1", r.Amount, null, null, null);
    });

    public CaptureOutcome Capture(CaptureRequest r, string key) => Once(key, "capture", () =>
    {
        var hold = Holds[r.AuthorizationId];
        if (hold.Status != ProviderAuthorizationStatus.Authorized) return new CaptureOutcome(false, null, 0, 0, [], "authorization_not_open", null);
        if (r.Amount > hold.Amount) return new CaptureOutcome(false, null, 0, 0, [], "amount_exceeds_hold", null);
        hold.Status = ProviderAuthorizationStatus.Captured;
        hold.Captured = r.Amount;
        hold.PaymentId = "pay_" + hold.Id;
        hold.Remittances.AddRange(r.Splits.Select(s => new Remittance(s.PayeeAccount, s.Amount)));
        return new CaptureOutcome(true, hold.PaymentId, r.Amount, hold.Amount - r.Amount, hold.Remittances.ToList(), null, null);
    });

    public VoidOutcome Void(string authorizationId, string key) => Once(key, "void", () =>
    {
        var hold = Holds[authorizationId];
        if (hold.Status == ProviderAuthorizationStatus.Expired) return new VoidOutcome(false, "authorization_expired", null);
        if (hold.Status != ProviderAuthorizationStatus.Authorized) return new VoidOutcome(false, "already_" + hold.Status.ToString().ToLowerInvariant(), null);
        hold.Status = ProviderAuthorizationStatus.Voided;
        return new VoidOutcome(true, null, null);
    });

    public RefundResult Refund(RefundRequest r, string key) => Once(key, "refund", () =>
    {
        var hold = Holds.Values.Single(h => h.PaymentId == r.PaymentId);
        if (r.Amount > hold.Captured - hold.Refunded) return new RefundResult(false, null, r.Amount, "refund_exceeds_captured", null);
        hold.Refunded += r.Amount;
        hold.Status = hold.Refunded == hold.Captured ? ProviderAuthorizationStatus.Refunded : ProviderAuthorizationStatus.PartiallyRefunded;
        return new RefundResult(true, $"re_{key}", r.Amount, null, null);
    });

    public ProviderAuthorization? Get(string authorizationId) => Holds.TryGetValue(authorizationId, out var h) ? View(h) : null;
    public ProviderAuthorization? FindByOrder(string order) => Holds.Values.FirstOrDefault(h => h.Order == order) is { } h ? View(h) : null;

    private static ProviderAuthorization View(Hold h) =>
        new(h.Id, h.Order, "w1", h.Amount, h.Status, h.Captured, h.Refunded, h.PaymentId, h.Remittances.ToList());
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
        MaxSettlementAttempts: 5, HoldRefreshBefore: TimeSpan.FromHours(12), HoldStopMarginBasisPoints: 500, AuthorizeBudget: TimeSpan.FromSeconds(20));

    public static SessionStart Start(long hold = 30_000, Tariff? tariff = null) => new(
        "CP-1", 1, "cpo-1", tariff ?? Tariff.Flat("std", 300), hold, new Commission(1_000, 0), "cpo-1-settlement", "platform-operator",
        new PaymentPresentation("kakaopay", "code-1", null), Id);

    public SessionRecord State { get; private set; } = new();
    public ProviderModel Provider { get; } = new();
    public DateTimeOffset Now { get; set; } = T0;
    /// <summary>Journals by key, as the ledger keeps them: a replayed key posts nothing.</summary>
    public Dictionary<string, Journal> Ledger { get; } = [];
    public List<SessionDecision> Decisions { get; } = [];
    public List<MeterSample> StoredSamples { get; } = [];
    /// <summary>Faults for the next provider calls, in order; when empty, calls are answered.</summary>
    public Queue<Fault> Faults { get; } = new();
    public bool WalletBusy { get; set; }

    /// <summary>Decides on the command and follows every provider call to its answer; returns the first decision.</summary>
    public SessionDecision Run(SessionCommand command)
    {
        SessionDecision? first = null;
        for (var guard = 0; guard < 20; guard++)
        {
            var decision = SessionMachine.Decide(Id, State, command, Now, Rules);
            first ??= decision;
            Decisions.Add(decision);
            State = decision.Next;
            StoredSamples.AddRange(decision.NewSamples);
            foreach (var j in decision.Journals) Ledger.TryAdd(j.Key, j);
            if (decision.Call is null) return first;
            command = Execute(decision.Call);
        }
        throw new InvalidOperationException("a command did not settle within 20 provider calls");
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
        if (fault == Fault.Unanswered) return new ProviderUnanswered(call.Kind, (call as RefundCall)?.RefundId, (call as CaptureLookupCall)?.RefusalCode);
        SessionCommand answer = call switch
        {
            AuthorizeCall a => Provider.Authorize(a.Request, a.IdempotencyKey) is var o
                ? new AuthorizeAnswered(o, o.Approved ? new HoldClaim(!WalletBusy, null, WalletBusy ? "wallet_has_open_session" : null) : null, false)
                : throw new InvalidOperationException(),
            CaptureCall c => new CaptureAnswered(Provider.Capture(c.Request, c.IdempotencyKey)),
            CaptureLookupCall l => new CaptureLookedUp(Provider.Get(l.AuthorizationId), l.RefusalCode),
            VoidCall v => new VoidAnswered(Provider.Void(v.AuthorizationId, v.IdempotencyKey)),
            OrderLookupCall o => new OrderLookedUp(Provider.FindByOrder(o.OrderId)),
            RefundCall r => new RefundAnswered(r.RefundId, Provider.Refund(r.Request, r.IdempotencyKey)),
            _ => throw new ArgumentOutOfRangeException(nameof(call)),
        };
        return fault == Fault.AnswerLost ? new ProviderUnanswered(call.Kind, (call as RefundCall)?.RefundId, (call as CaptureLookupCall)?.RefusalCode) : answer;
    }

    public long Posted(JournalKind kind) => Ledger.Values.Where(j => j.Kind == kind).Sum(j => j.Total);
    public bool HasJournal(JournalKind kind) => Ledger.Values.Any(j => j.Kind == kind);

    /// <summary>The money invariants of design §6 over this session's ledger and the provider's record.</summary>
    public void AssertMoneyInvariants()
    {
        foreach (var j in Ledger.Values) Assert.Equal(0, j.Lines.Sum(l => l.Amount)); // every journal balances
        var held = Posted(JournalKind.Hold);
        var captured = Posted(JournalKind.Capture);
        Assert.True(captured <= held, $"captured {captured} > authorized {held}");
        var resolutions = Ledger.Values.Count(j => j.Kind is JournalKind.Capture or JournalKind.Void or JournalKind.Expire);
        Assert.True(resolutions <= 1, $"hold resolved {resolutions} times");
        if (captured > 0)
        {
            Assert.Equal(captured, Posted(JournalKind.Remit)); // splits sum to the capture
            Assert.Equal(held - captured, Posted(JournalKind.Release));
        }
        Assert.True(Posted(JournalKind.Refund) <= captured, "refunded more than captured");
        Assert.Equal(Posted(JournalKind.Refund), Posted(JournalKind.RefundReversal));
        // The ledger and the provider agree on what moved.
        var providerCaptured = Provider.Holds.Values.Sum(h => h.Captured);
        Assert.Equal(providerCaptured, captured);
        Assert.Equal(Provider.Holds.Values.Sum(h => h.Refunded), Posted(JournalKind.Refund));
        Assert.True(Provider.Executions("capture") <= 1, "captured twice at the provider");
    }
}
