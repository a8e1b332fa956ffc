using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace EvCharge.SocialSandbox;

/// <summary>
/// All sandbox state: wallets, payment codes, billing keys, holds, captures, refunds, payee remittances, receipts
/// and stored idempotent answers. One lock guards it: every operation is a few dictionary updates, so a single
/// short critical section serves hundreds of concurrent requests and makes each money movement atomic (a hold
/// can never be captured and voided at once, a balance never goes below its holds). Every change is journaled
/// before the lock is released, and receipts are handed to the phones' streams in the same critical section.
/// </summary>
public sealed partial class SandboxStore : IDisposable
{
    private const string Digits = "0123456789";
    private const string Alnum = "abcdefghijklmnopqrstuvwxyz0123456789";
    private static readonly TimeSpan Kst = TimeSpan.FromHours(9);

    private readonly Lock _gate = new();
    private readonly SandboxOptions _options;
    private readonly TimeProvider _clock;
    private readonly ReceiptHub _hub;
    private readonly SandboxJournal? _journal;
    private readonly List<(string, object)> _pending = [];

    private readonly Dictionary<string, Wallet> _wallets = new();
    private readonly Dictionary<string, long> _held = new();
    private readonly Dictionary<string, PaymentCode> _codes = new();
    private readonly Dictionary<string, BillingKey> _billingKeys = new();
    private readonly Dictionary<string, Authorization> _auths = new();
    private readonly Dictionary<string, string> _authByAuthorizeKey = new();
    private readonly Dictionary<string, string> _authByPayment = new();
    private readonly Dictionary<string, List<string>> _authsByOrder = new();
    private readonly Dictionary<string, List<string>> _authsByBillingKey = new();
    private readonly PriorityQueue<string, DateTimeOffset> _expiries = new();
    private readonly Dictionary<string, List<RemittanceEntry>> _remittances = new();
    private readonly Dictionary<string, List<Receipt>> _receipts = new();
    private readonly Dictionary<string, IdempotencyRecord> _idempotency = new();

    internal SandboxStore(SandboxOptions options, ReceiptHub hub)
    {
        _options = options;
        _clock = options.TimeProvider;
        _hub = hub;
        if (options.DataFile is { Length: > 0 } file)
        {
            _journal = new SandboxJournal(file);
            Load(_journal);
        }
    }

    /// <summary>Request and execution counters, so tests can see retries and prove an operation ran once.</summary>
    public SandboxStats Stats { get; } = new();

    public DateTimeOffset Now => _clock.GetUtcNow();

    // ------------------------------------------------------------------ wallets

    public SandboxResult CreateWallet(CreateWalletRequest request)
    {
        if (request.Balance < 0) return SandboxResult.Problem(422, "invalid_amount", "balance must not be negative");
        if (request.PerPaymentLimit is <= 0) return SandboxResult.Problem(422, "invalid_amount", "perPaymentLimit must be positive");
        lock (_gate)
        {
            var id = string.IsNullOrWhiteSpace(request.WalletId) ? "wal_" + Random(Alnum, 16) : request.WalletId.Trim();
            if (_wallets.ContainsKey(id)) return SandboxResult.Problem(409, "wallet_exists", $"wallet '{id}' already exists");
            var wallet = new Wallet(id, request.Owner, WalletRefOf(id), request.Balance, request.PerPaymentLimit, false, Now);
            PutWallet(wallet);
            Commit();
            return SandboxResult.Created(View(wallet));
        }
    }

    public SandboxResult GetWallet(string walletId)
    {
        lock (_gate)
        {
            Sweep();
            Commit();
            return _wallets.TryGetValue(walletId, out var w) ? SandboxResult.Ok(View(w)) : SandboxResult.NotFound("wallet", walletId);
        }
    }

    public SandboxResult SetBlocked(string walletId, bool blocked)
    {
        lock (_gate)
        {
            if (!_wallets.TryGetValue(walletId, out var w)) return SandboxResult.NotFound("wallet", walletId);
            if (w.Blocked != blocked) PutWallet(w with { Blocked = blocked });
            Commit();
            return SandboxResult.Ok(View(_wallets[walletId]));
        }
    }

    // ------------------------------------------------------------------ payment codes and billing keys

    public SandboxResult IssuePaymentCode(string walletId)
    {
        lock (_gate)
        {
            if (!_wallets.ContainsKey(walletId)) return SandboxResult.NotFound("wallet", walletId);
            string code;
            do code = Random(Digits, 20); while (_codes.ContainsKey(code));
            var pc = new PaymentCode(code, walletId, Now + _options.PaymentCodeLifetime, null);
            PutCode(pc);
            Commit();
            return SandboxResult.Created(new PaymentCodeView(pc.Code, walletId, pc.ExpiresAt));
        }
    }

    public SandboxResult IssueBillingKey(string walletId, CreateBillingKeyRequest request)
    {
        if (!request.Consent) return SandboxResult.Problem(422, "consent_required", "the driver's consent is required to save a billing key");
        if (request.PerChargeLimit is <= 0 || request.DailyLimit is <= 0)
            return SandboxResult.Problem(422, "invalid_amount", "limits must be positive");
        lock (_gate)
        {
            if (!_wallets.ContainsKey(walletId)) return SandboxResult.NotFound("wallet", walletId);
            var key = new BillingKey("bk_" + Random(Alnum, 24), walletId, request.VehicleId, request.PerChargeLimit,
                request.DailyLimit, Now, request.ExpiresAt, null);
            PutBillingKey(key);
            Commit();
            return SandboxResult.Created(View(key));
        }
    }

    public SandboxResult RevokeBillingKey(string key)
    {
        lock (_gate)
        {
            if (!_billingKeys.TryGetValue(key, out var bk)) return SandboxResult.NotFound("billing key", Mask(key));
            if (bk.RevokedAt is null) PutBillingKey(bk = bk with { RevokedAt = Now });
            Commit();
            return SandboxResult.Ok(View(bk));
        }
    }

    // ------------------------------------------------------------------ holds

    /// <param name="idempotencyKey">Also stored on the hold: after a crash between the state change and the stored
    /// answer, a retry with the same key finds the hold instead of placing a second one.</param>
    /// <param name="forceDecline">Set by the fault switch: the issuer declines after every check passed.</param>
    public SandboxResult Authorize(AuthorizeBody body, string idempotencyKey, bool forceDecline = false)
    {
        if (body.Amount <= 0) return SandboxResult.Problem(422, "invalid_amount", "amount must be a positive number of KRW");
        if (string.IsNullOrWhiteSpace(body.OrderId)) return SandboxResult.Problem(422, "invalid_request", "orderId is required");
        if ((body.PaymentCode is null) == (body.BillingKey is null))
            return SandboxResult.Problem(422, "invalid_request", "give exactly one of paymentCode or billingKey");

        lock (_gate)
        {
            Sweep();
            if (_authByAuthorizeKey.TryGetValue(idempotencyKey, out var existingId))
            {
                Commit();
                return SandboxResult.Created(AuthorizationView.Of(_auths[existingId]));
            }

            var now = Now;
            Wallet wallet;
            PaymentCode? code = null;
            BillingKey? billingKey = null;
            if (body.PaymentCode is not null)
            {
                if (!_codes.TryGetValue(body.PaymentCode, out code)) return Decline("unknown_code", "the payment code is not known");
                if (code.UsedAt is not null) return Decline("code_used", "the payment code was already used");
                if (code.ExpiresAt <= now) return Decline("code_expired", "the payment code has expired; show a fresh one");
                if (CheckoutMismatch(code, body) is { } mismatch) return Decline("checkout_mismatch", mismatch);
                wallet = _wallets[code.WalletId];
            }
            else
            {
                if (!_billingKeys.TryGetValue(body.BillingKey!, out billingKey)) return Decline("unknown_token", "the billing key is not known");
                if (billingKey.RevokedAt is not null) return Decline("token_revoked", "the billing key was revoked");
                if (billingKey.ExpiresAt <= now) return Decline("token_expired", "the billing key has expired");
                if (billingKey.PerChargeLimit < body.Amount)
                    return Decline("limit_exceeded", $"amount exceeds the billing key's per-charge limit of {billingKey.PerChargeLimit}");
                if (billingKey.DailyLimit is { } daily && UsedToday(billingKey.Key, now) + body.Amount > daily)
                    return Decline("limit_exceeded", $"amount exceeds the billing key's daily limit of {daily}");
                wallet = _wallets[billingKey.WalletId];
            }

            if (wallet.Blocked) return Decline("wallet_blocked", "the wallet is blocked");
            if (wallet.PerPaymentLimit < body.Amount)
                return Decline("limit_exceeded", $"amount exceeds the wallet's per-payment limit of {wallet.PerPaymentLimit}");
            if (wallet.Balance - Held(wallet.WalletId) < body.Amount)
                return Decline("insufficient_funds", "the wallet's available balance is below the amount");
            if (forceDecline) return Decline("do_not_honor", "declined by the issuer (fault injection)");

            var auth = new Authorization("az_" + Random(Alnum, 16), wallet.WalletId, wallet.WalletRef, body.OrderId!,
                body.MerchantReference, body.Amount, AuthorizationStatus.Authorized, now, now + _options.HoldLifetime,
                code is not null ? "payment_code" : "billing_key", billingKey?.Key, idempotencyKey);
            PutAuth(auth);
            if (code is not null) PutCode(code with { UsedAt = now });
            Commit();
            Stats.Executed("authorize");
            return SandboxResult.Created(AuthorizationView.Of(auth));
        }
    }

    public SandboxResult Capture(string authorizationId, CaptureBody body, string idempotencyKey)
    {
        lock (_gate)
        {
            Sweep();
            var result = CaptureLocked(authorizationId, body, idempotencyKey, out var receipt);
            Commit();
            // Pushed inside the lock (a non-blocking channel write) so each phone sees its receipts in order.
            if (receipt is not null) _hub.Publish(receipt);
            return result;
        }
    }

    private SandboxResult CaptureLocked(string authorizationId, CaptureBody body, string idempotencyKey, out Receipt? receipt)
    {
        receipt = null;
        if (!_auths.TryGetValue(authorizationId, out var auth)) return SandboxResult.NotFound("authorization", authorizationId);
        if (auth.CaptureKey == idempotencyKey) return SandboxResult.Ok(CaptureViewOf(auth));
        switch (auth.Status)
        {
            case AuthorizationStatus.Voided: return SandboxResult.Problem(409, "authorization_voided", "the hold was voided");
            case AuthorizationStatus.Expired: return SandboxResult.Problem(409, "authorization_expired", "the hold expired and its money was released");
            case not AuthorizationStatus.Authorized:
                return SandboxResult.Problem(409, "already_captured", $"the hold was already captured as {auth.PaymentId} under another idempotency key");
        }

        var splits = body.Splits ?? [];
        if (body.Amount <= 0) return SandboxResult.Problem(422, "invalid_amount", "capture amount must be positive; void the hold instead");
        if (body.Amount > auth.Amount)
            return SandboxResult.Problem(422, "amount_exceeds_authorized", $"capture {body.Amount} exceeds the authorized {auth.Amount}");
        if (splits.Count == 0 || splits.Any(s => s.Amount < 0 || string.IsNullOrWhiteSpace(s.PayeeAccount)))
            return SandboxResult.Problem(422, "invalid_splits", "give at least one split with a payee account and a non-negative amount");
        if (splits.Sum(s => s.Amount) != body.Amount)
            return SandboxResult.Problem(422, "split_mismatch", $"splits sum to {splits.Sum(s => s.Amount)}, not the capture amount {body.Amount}");
        if (body.Receipt is { } r && (r.Total != body.Amount || r.SupplyValue + r.Vat != r.Total))
            return SandboxResult.Problem(422, "receipt_mismatch", "receipt total must equal the capture amount and supplyValue + vat the total");

        var now = Now;
        var paymentId = "pay_" + Random(Alnum, 16);
        var captured = auth with
        {
            Status = AuthorizationStatus.Captured, Captured = body.Amount, Released = auth.Amount - body.Amount,
            PaymentId = paymentId, CaptureKey = idempotencyKey, Remittances = splits.ToList(), ResolvedAt = now,
        };
        PutAuth(captured);
        var wallet = _wallets[auth.WalletId];
        PutWallet(wallet with { Balance = wallet.Balance - body.Amount });
        foreach (var s in splits)
            AddRemittance(new RemittanceEntry(s.PayeeAccount, s.Amount, "capture", paymentId, auth.AuthorizationId, null, now));

        var rb = body.Receipt;
        var vat = rb?.Vat ?? VatOf(body.Amount);
        receipt = AddReceipt(auth.WalletId, seq => new Receipt(seq, "rc_" + Random(Alnum, 16), "payment", auth.WalletId,
            paymentId, auth.AuthorizationId, null, rb?.ChargerId ?? auth.MerchantReference, rb?.ConnectorId, rb?.SessionId,
            body.Amount, rb?.SupplyValue ?? body.Amount - vat, vat, rb?.EnergyWh, rb?.StartedAt, rb?.StoppedAt,
            splits.ToList(), now));
        Stats.Executed("capture");
        return SandboxResult.Ok(CaptureViewOf(captured));
    }

    public SandboxResult Void(string authorizationId, string idempotencyKey)
    {
        lock (_gate)
        {
            Sweep();
            if (!_auths.TryGetValue(authorizationId, out var auth)) return Done(SandboxResult.NotFound("authorization", authorizationId));
            switch (auth.Status)
            {
                case AuthorizationStatus.Voided: return Done(SandboxResult.Ok(new VoidView(auth.AuthorizationId, auth.Released, auth.Status)));
                case AuthorizationStatus.Expired: return Done(SandboxResult.Problem(409, "authorization_expired", "the hold already expired and its money was released"));
                case not AuthorizationStatus.Authorized: return Done(SandboxResult.Problem(409, "already_captured", $"the hold was captured as {auth.PaymentId}; refund it instead"));
            }
            var voided = auth with { Status = AuthorizationStatus.Voided, Released = auth.Amount, ResolvedAt = Now };
            PutAuth(voided);
            Stats.Executed("void");
            return Done(SandboxResult.Ok(new VoidView(voided.AuthorizationId, voided.Released, voided.Status)));
        }
    }

    public SandboxResult Refund(string paymentId, RefundBody body, string idempotencyKey)
    {
        lock (_gate)
        {
            Sweep();
            Receipt? receipt = null;
            var result = RefundLocked(paymentId, body, idempotencyKey, ref receipt);
            Commit();
            if (receipt is not null) _hub.Publish(receipt);
            return result;
        }
    }

    private SandboxResult RefundLocked(string paymentId, RefundBody body, string idempotencyKey, ref Receipt? receipt)
    {
        if (!_authByPayment.TryGetValue(paymentId, out var authId)) return SandboxResult.NotFound("payment", paymentId);
        var auth = _auths[authId];
        var refunds = auth.Refunds ?? [];
        if (refunds.FirstOrDefault(r => r.IdempotencyKey == idempotencyKey) is { } earlier)
            return SandboxResult.Created(RefundView.Of(auth, earlier));

        var reversals = body.SplitReversals ?? [];
        if (body.Amount <= 0) return SandboxResult.Problem(422, "invalid_amount", "refund amount must be positive");
        if (auth.Refunded + body.Amount > auth.Captured)
            return SandboxResult.Problem(422, "refund_exceeds_captured",
                $"refunds would total {auth.Refunded + body.Amount}, more than the captured {auth.Captured}");
        if (reversals.Any(r => r.Amount < 0)) return SandboxResult.Problem(422, "invalid_splits", "reversal amounts must not be negative");
        if (reversals.Sum(r => r.Amount) != body.Amount)
            return SandboxResult.Problem(422, "split_mismatch", $"split reversals sum to {reversals.Sum(r => r.Amount)}, not the refund amount {body.Amount}");
        foreach (var g in reversals.GroupBy(r => r.PayeeAccount))
        {
            var remitted = (auth.Remittances ?? []).Where(x => x.PayeeAccount == g.Key).Sum(x => x.Amount)
                - refunds.SelectMany(x => x.SplitReversals).Where(x => x.PayeeAccount == g.Key).Sum(x => x.Amount);
            if (g.Sum(r => r.Amount) > remitted)
                return SandboxResult.Problem(422, "reversal_exceeds_remittance",
                    $"payee '{g.Key}' has {remitted} left from this payment, less than the reversal {g.Sum(r => r.Amount)}");
        }

        var now = Now;
        var refund = new RefundRecord("rf_" + Random(Alnum, 16), idempotencyKey, body.Amount, reversals.ToList(), body.Reason, now);
        var refunded = auth.Refunded + body.Amount;
        var updated = auth with
        {
            Refunded = refunded, Refunds = [.. refunds, refund],
            Status = refunded == auth.Captured ? AuthorizationStatus.Refunded : AuthorizationStatus.PartiallyRefunded,
        };
        PutAuth(updated);
        var wallet = _wallets[auth.WalletId];
        PutWallet(wallet with { Balance = wallet.Balance + body.Amount });
        foreach (var r in reversals)
            AddRemittance(new RemittanceEntry(r.PayeeAccount, -r.Amount, "reversal", paymentId, auth.AuthorizationId, refund.RefundId, now));
        var vat = VatOf(body.Amount);
        var original = _receipts.GetValueOrDefault(auth.WalletId)?.FirstOrDefault(x => x.PaymentId == paymentId && x.Kind == "payment");
        receipt = AddReceipt(auth.WalletId, seq => new Receipt(seq, "rc_" + Random(Alnum, 16), "refund", auth.WalletId,
            paymentId, auth.AuthorizationId, refund.RefundId, original?.Merchant ?? auth.MerchantReference, original?.ConnectorId,
            original?.SessionId, body.Amount, body.Amount - vat, vat, null, null, null, reversals.ToList(), now));
        Stats.Executed("refund");
        return SandboxResult.Created(RefundView.Of(updated, refund));
    }

    // ------------------------------------------------------------------ queries

    public SandboxResult GetAuthorization(string authorizationId)
    {
        lock (_gate)
        {
            Sweep();
            Commit();
            return _auths.TryGetValue(authorizationId, out var a)
                ? SandboxResult.Ok(AuthorizationView.Of(a))
                : SandboxResult.NotFound("authorization", authorizationId);
        }
    }

    public IReadOnlyList<AuthorizationView> FindAuthorizations(string? orderId, AuthorizationStatus? status)
    {
        lock (_gate)
        {
            Sweep();
            Commit();
            IEnumerable<Authorization> found = orderId is not null
                ? _authsByOrder.GetValueOrDefault(orderId)?.Select(id => _auths[id]) ?? []
                : _auths.Values.OrderBy(a => a.CreatedAt);
            if (status is { } s) found = found.Where(a => a.Status == s);
            return found.Select(AuthorizationView.Of).ToList();
        }
    }

    public RemittanceListView Remittances(string payeeAccount)
    {
        lock (_gate)
        {
            var entries = _remittances.GetValueOrDefault(payeeAccount)?.ToList() ?? [];
            return new RemittanceListView(payeeAccount, entries.Sum(e => e.Amount), entries);
        }
    }

    /// <summary>The wallet's receipts with a sequence number above <paramref name="afterSequence"/>, oldest first.</summary>
    public IReadOnlyList<Receipt>? Receipts(string walletId, long afterSequence = 0)
    {
        lock (_gate)
        {
            if (!_wallets.ContainsKey(walletId)) return null;
            return _receipts.GetValueOrDefault(walletId)?.Where(r => r.Sequence > afterSequence).ToList() ?? [];
        }
    }

    public bool WalletExists(string walletId)
    {
        lock (_gate) return _wallets.ContainsKey(walletId);
    }

    // ------------------------------------------------------------------ idempotency records (see Idempotency.cs)

    internal IdempotencyRecord? FindIdempotencyRecord(string key)
    {
        lock (_gate) return _idempotency.GetValueOrDefault(key);
    }

    internal void SaveIdempotencyRecord(IdempotencyRecord record)
    {
        lock (_gate)
        {
            _idempotency[record.Key] = record;
            _pending.Add(("idem", record));
            Commit();
        }
    }

    // ------------------------------------------------------------------ internals

    private SandboxResult Decline(string code, string detail)
    {
        Commit();
        Stats.Declined(code);
        return SandboxResult.Declined(code, detail);
    }

    private SandboxResult Done(SandboxResult result)
    {
        Commit();
        return result;
    }

    /// <summary>Expires holds whose lifetime has passed; lazily, on every operation, so no timer is needed.</summary>
    private void Sweep()
    {
        var now = Now;
        while (_expiries.TryPeek(out var id, out var at) && at <= now)
        {
            _expiries.Dequeue();
            var a = _auths[id];
            if (a.Status == AuthorizationStatus.Authorized && a.ExpiresAt <= now)
                PutAuth(a with { Status = AuthorizationStatus.Expired, Released = a.Amount, ResolvedAt = now });
        }
    }

    private long UsedToday(string billingKey, DateTimeOffset now)
    {
        var today = now.ToOffset(Kst).Date;
        return (_authsByBillingKey.GetValueOrDefault(billingKey) ?? [])
            .Select(id => _auths[id])
            .Where(a => a.CreatedAt.ToOffset(Kst).Date == today)
            .Sum(a => a.Status switch
            {
                AuthorizationStatus.Authorized => a.Amount,
                AuthorizationStatus.Voided or AuthorizationStatus.Expired => 0,
                _ => a.Captured - a.Refunded,
            });
    }

    private long Held(string walletId) => _held.GetValueOrDefault(walletId);

    private void PutWallet(Wallet w)
    {
        _wallets[w.WalletId] = w;
        _pending.Add(("wallet", w));
    }

    private void PutCode(PaymentCode c)
    {
        _codes[c.Code] = c;
        _pending.Add(("code", c));
    }

    private void PutBillingKey(BillingKey k)
    {
        _billingKeys[k.Key] = k;
        _pending.Add(("bkey", k));
    }

    private void PutAuth(Authorization a)
    {
        IndexAuth(a);
        _pending.Add(("auth", a));
    }

    private void IndexAuth(Authorization a)
    {
        var isNew = !_auths.TryGetValue(a.AuthorizationId, out var old);
        if (old?.Holding == true) _held[old.WalletId] -= old.Amount;
        if (a.Holding) _held[a.WalletId] = Held(a.WalletId) + a.Amount;
        _auths[a.AuthorizationId] = a;
        if (isNew)
        {
            _authByAuthorizeKey[a.AuthorizeKey] = a.AuthorizationId;
            Add(_authsByOrder, a.OrderId, a.AuthorizationId);
            if (a.BillingKey is not null) Add(_authsByBillingKey, a.BillingKey, a.AuthorizationId);
            if (a.Holding) _expiries.Enqueue(a.AuthorizationId, a.ExpiresAt);
        }
        if (a.PaymentId is not null) _authByPayment[a.PaymentId] = a.AuthorizationId;
    }

    private void AddRemittance(RemittanceEntry e)
    {
        Add(_remittances, e.PayeeAccount, e);
        _pending.Add(("remit", e));
    }

    private Receipt AddReceipt(string walletId, Func<long, Receipt> make)
    {
        var receipt = make((_receipts.GetValueOrDefault(walletId)?.Count ?? 0) + 1);
        Add(_receipts, walletId, receipt);
        _pending.Add(("receipt", receipt));
        return receipt;
    }

    private void Commit()
    {
        if (_pending.Count == 0) return;
        _journal?.Append(_pending);
        _pending.Clear();
    }

    private static void Add<TKey, TValue>(Dictionary<TKey, List<TValue>> index, TKey key, TValue value) where TKey : notnull
    {
        if (!index.TryGetValue(key, out var list)) index[key] = list = [];
        list.Add(value);
    }

    private WalletView View(Wallet w)
    {
        var held = Held(w.WalletId);
        return new WalletView(w.WalletId, w.Owner, w.WalletRef, w.Balance, held, w.Balance - held, w.PerPaymentLimit, w.Blocked);
    }

    private BillingKeyView View(BillingKey k) => new(k.Key, k.WalletId, k.VehicleId, k.PerChargeLimit, k.DailyLimit,
        k.ExpiresAt, k.RevokedAt is not null ? "revoked" : k.ExpiresAt <= Now ? "expired" : "active");

    private static CaptureView CaptureViewOf(Authorization a) =>
        new(a.PaymentId!, a.AuthorizationId, a.Captured, a.Released, a.Remittances ?? [], "captured");

    /// <summary>Design §6: VAT = round(total / 11), half away from zero; supply value = total − VAT.</summary>
    internal static long VatOf(long total) => (total + 5) / 11;

    private string WalletRefOf(string walletId)
    {
        var mac = HMACSHA256.HashData(Encoding.UTF8.GetBytes(_options.WalletRefSalt), Encoding.UTF8.GetBytes(walletId));
        return "w_" + Convert.ToHexStringLower(mac)[..16];
    }

    private static string Random(string alphabet, int length) => RandomNumberGenerator.GetString(alphabet, length);

    /// <summary>Payment codes and billing keys are bearer secrets: only their last four characters are ever shown.</summary>
    public static string Mask(string? secret) =>
        secret is null ? "" : secret.Length <= 4 ? "****" : new string('*', Math.Min(secret.Length - 4, 8)) + secret[^4..];

    private void Load(SandboxJournal journal)
    {
        var o = SandboxJson.Options;
        foreach (var (type, v) in journal.ReadAll())
        {
            switch (type)
            {
                case "wallet": var w = v.Deserialize<Wallet>(o)!; _wallets[w.WalletId] = w; break;
                case "code": var c = v.Deserialize<PaymentCode>(o)!; _codes[c.Code] = c; break;
                case "bkey": var k = v.Deserialize<BillingKey>(o)!; _billingKeys[k.Key] = k; break;
                case "auth": IndexAuth(v.Deserialize<Authorization>(o)!); break;
                case "remit": var e = v.Deserialize<RemittanceEntry>(o)!; Add(_remittances, e.PayeeAccount, e); break;
                case "receipt": var r = v.Deserialize<Receipt>(o)!; Add(_receipts, r.WalletId, r); break;
                case "idem": var i = v.Deserialize<IdempotencyRecord>(o)!; _idempotency[i.Key] = i; break;
                case "checkout": IndexCheckout(v.Deserialize<Checkout>(o)!); break;
            }
        }
        journal.Compact(Snapshot());
    }

    private IEnumerable<(string, object)> Snapshot()
    {
        foreach (var w in _wallets.Values) yield return ("wallet", w);
        foreach (var c in _codes.Values) yield return ("code", c);
        foreach (var k in _billingKeys.Values) yield return ("bkey", k);
        foreach (var a in _auths.Values) yield return ("auth", a);
        foreach (var e in _remittances.Values.SelectMany(x => x)) yield return ("remit", e);
        foreach (var r in _receipts.Values.SelectMany(x => x)) yield return ("receipt", r);
        foreach (var i in _idempotency.Values) yield return ("idem", i);
        foreach (var co in _checkouts.Values) yield return ("checkout", co);
    }

    public void Dispose()
    {
        lock (_gate) _journal?.Dispose();
    }
}

/// <summary>Counters of what reached the sandbox, per operation (authorize, capture, void, refund).</summary>
public sealed class SandboxStats
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, int> _counts = new();

    /// <summary>HTTP requests that arrived for the operation, including retries, replays and faulted ones.</summary>
    public int Requests(string operation) => _counts.GetValueOrDefault("req:" + operation);

    /// <summary>Times the operation actually moved money (a replay or a decline does not count).</summary>
    public int Executions(string operation) => _counts.GetValueOrDefault("exec:" + operation);

    /// <summary>Faults injected for the operation, by kind (error, timeout, lost_answer, decline).</summary>
    public int Faults(string operation, string kind) => _counts.GetValueOrDefault($"fault:{operation}:{kind}");

    public int Declines(string declineCode) => _counts.GetValueOrDefault("decline:" + declineCode);

    internal void Requested(string operation) => Bump("req:" + operation);
    internal void Executed(string operation) => Bump("exec:" + operation);
    internal void Faulted(string operation, string kind) => Bump($"fault:{operation}:{kind}");
    internal void Declined(string code) => Bump("decline:" + code);

    private void Bump(string key) => _counts.AddOrUpdate(key, 1, (_, n) => n + 1);
}
