using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace EvCharge.SocialSandbox;

/// <summary>
/// Idempotency as Stripe does it. A key identifies one logical request; the first answer that reflects a
/// business decision (2xx, a 402 decline, a 409 conflict) is stored with a hash of method, path and body.
/// A replay with the same hash gets that stored status and body byte for byte; the same key with a different
/// hash is refused with 422 <c>idempotency_key_reuse</c>. Validation failures (400/404/422) are not stored, so
/// the caller may fix the request and send it again under the same key. Requests with the same key are
/// serialized by a per-key lock, so two concurrent duplicates can never both execute.
/// </summary>
internal sealed class IdempotencyGuard(SandboxStore store)
{
    public const string HeaderName = "Idempotency-Key";
    public const int MaxKeyLength = 255;

    private readonly Dictionary<string, KeyLock> _locks = new();

    public async Task<IdempotentAnswer> RunAsync(string key, string requestHash, Func<SandboxResult> execute, CancellationToken ct)
    {
        var keyLock = Enter(key);
        try
        {
            await keyLock.Semaphore.WaitAsync(ct);
            try
            {
                if (store.FindIdempotencyRecord(key) is { } stored)
                {
                    return stored.RequestHash == requestHash
                        ? new IdempotentAnswer(stored.StatusCode, stored.Body, Replayed: true)
                        : Answer(SandboxResult.Problem(422, "idempotency_key_reuse",
                            "this Idempotency-Key was already used with a different request; use a new key"));
                }

                var result = execute();
                var answer = Answer(result);
                if (result.IsSuccess || result.Status is 402 or 409)
                    store.SaveIdempotencyRecord(new IdempotencyRecord(key, requestHash, answer.Status, answer.Body, store.Now));
                return answer;
            }
            finally
            {
                keyLock.Semaphore.Release();
            }
        }
        finally
        {
            Exit(key, keyLock);
        }
    }

    /// <summary>SHA-256 over method, path and the body with insignificant whitespace removed.</summary>
    public static string HashRequest(string method, string path, ReadOnlySpan<byte> body)
    {
        var canonical = body.IsEmpty ? "" : Canonical(body);
        var bytes = Encoding.UTF8.GetBytes($"{method.ToUpperInvariant()}\n{path}\n{canonical}");
        return Convert.ToHexStringLower(SHA256.HashData(bytes));
    }

    private static string Canonical(ReadOnlySpan<byte> body)
    {
        try
        {
            using var doc = JsonDocument.Parse(body.ToArray());
            return JsonSerializer.Serialize(doc.RootElement);
        }
        catch (JsonException)
        {
            return Encoding.UTF8.GetString(body);
        }
    }

    private static IdempotentAnswer Answer(SandboxResult result) =>
        new(result.Status, JsonSerializer.Serialize(result.Body, result.Body.GetType(), SandboxJson.Options), Replayed: false);

    private KeyLock Enter(string key)
    {
        lock (_locks)
        {
            if (!_locks.TryGetValue(key, out var l)) _locks[key] = l = new KeyLock();
            l.Users++;
            return l;
        }
    }

    private void Exit(string key, KeyLock l)
    {
        lock (_locks)
        {
            if (--l.Users == 0) _locks.Remove(key);
        }
    }

    private sealed class KeyLock
    {
        public readonly SemaphoreSlim Semaphore = new(1, 1);
        public int Users;
    }
}

internal readonly record struct IdempotentAnswer(int Status, string Body, bool Replayed);
