using System.Buffers;
using System.Text;
using System.Text.Json;

namespace EvCharge.ChargerBridge.Ocpp;

/// <summary>OCPP-J message type numbers (the first element of every frame).</summary>
public enum OcppMessageType
{
    Call = 2,
    CallResult = 3,
    CallError = 4,
}

/// <summary>
/// One parsed OCPP-J frame: <c>[2,id,action,payload]</c>, <c>[3,id,payload]</c> or <c>[4,id,code,description,details]</c>.
/// Owns the pooled <see cref="JsonDocument"/> its payload points into, so dispose it when done.
/// Transport-agnostic: MQTT and WebSocket hand it the same bytes.
/// </summary>
public sealed class OcppFrame : IDisposable
{
    /// <summary>OCPP-J: the message id is a string of at most 36 characters.</summary>
    public const int MaxMessageIdLength = 36;

    /// <summary>Id used in a CALLERROR when the offending frame did not carry a usable message id.</summary>
    public const string UnknownMessageId = "-1";

    private readonly JsonDocument _document;

    private OcppFrame(JsonDocument document, OcppMessageType type, string messageId, string? action, JsonElement payload,
        string? errorCode, string? errorDescription)
    {
        _document = document;
        Type = type;
        MessageId = messageId;
        Action = action;
        Payload = payload;
        ErrorCode = errorCode;
        ErrorDescription = errorDescription;
    }

    public OcppMessageType Type { get; }
    public string MessageId { get; }

    /// <summary>The action of a CALL; null for CALLRESULT and CALLERROR.</summary>
    public string? Action { get; }

    /// <summary>The payload of a CALL or CALLRESULT, or the error details of a CALLERROR.</summary>
    public JsonElement Payload { get; }

    public string? ErrorCode { get; }
    public string? ErrorDescription { get; }

    public void Dispose() => _document.Dispose();

    /// <summary>Parses a frame, or throws <see cref="OcppFrameException"/> carrying the CALLERROR to answer with.</summary>
    public static OcppFrame Parse(ReadOnlyMemory<byte> utf8)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(utf8, new JsonDocumentOptions { MaxDepth = 32 });
        }
        catch (JsonException)
        {
            throw new OcppFrameException(UnknownMessageId, OcppErrorCode.FormationViolation, "Frame is not valid JSON");
        }

        try
        {
            return FromDocument(document);
        }
        catch
        {
            document.Dispose();
            throw;
        }
    }

    public static OcppFrame Parse(string text) => Parse(Encoding.UTF8.GetBytes(text));

    private static OcppFrame FromDocument(JsonDocument document)
    {
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Array)
            throw new OcppFrameException(UnknownMessageId, OcppErrorCode.FormationViolation, "Frame must be a JSON array");

        var length = root.GetArrayLength();
        if (length < 3)
            throw new OcppFrameException(TryMessageId(root, length), OcppErrorCode.FormationViolation,
                "Frame must have at least 3 elements");

        var typeElement = root[0];
        if (typeElement.ValueKind != JsonValueKind.Number || !typeElement.TryGetInt32(out var typeNumber))
            throw new OcppFrameException(TryMessageId(root, length), OcppErrorCode.FormationViolation,
                "Message type must be the number 2, 3 or 4");

        var idElement = root[1];
        if (idElement.ValueKind != JsonValueKind.String)
            throw new OcppFrameException(UnknownMessageId, OcppErrorCode.FormationViolation, "Message id must be a string");
        var messageId = idElement.GetString()!;
        if (messageId.Length == 0 || messageId.Length > MaxMessageIdLength)
            throw new OcppFrameException(messageId.Length == 0 ? UnknownMessageId : messageId,
                OcppErrorCode.FormationViolation, $"Message id must be 1 to {MaxMessageIdLength} characters");

        switch (typeNumber)
        {
            case (int)OcppMessageType.Call:
            {
                var actionElement = root[2];
                if (actionElement.ValueKind != JsonValueKind.String || actionElement.GetString() is not { Length: > 0 } action)
                    throw new OcppFrameException(messageId, OcppErrorCode.FormationViolation, "Action must be a non-empty string");
                if (length == 3)
                    throw new OcppFrameException(messageId, OcppErrorCode.ProtocolError, "CALL is missing its payload");
                if (length > 4)
                    throw new OcppFrameException(messageId, OcppErrorCode.FormationViolation, "CALL must have exactly 4 elements");
                var payload = root[3];
                if (payload.ValueKind != JsonValueKind.Object)
                    throw new OcppFrameException(messageId, OcppErrorCode.FormationViolation, "CALL payload must be a JSON object");
                return new OcppFrame(document, OcppMessageType.Call, messageId, action, payload, null, null);
            }
            case (int)OcppMessageType.CallResult:
            {
                if (length != 3)
                    throw new OcppFrameException(messageId, OcppErrorCode.FormationViolation, "CALLRESULT must have exactly 3 elements");
                var payload = root[2];
                if (payload.ValueKind != JsonValueKind.Object)
                    throw new OcppFrameException(messageId, OcppErrorCode.FormationViolation, "CALLRESULT payload must be a JSON object");
                return new OcppFrame(document, OcppMessageType.CallResult, messageId, null, payload, null, null);
            }
            case (int)OcppMessageType.CallError:
            {
                if (length != 5)
                    throw new OcppFrameException(messageId, OcppErrorCode.FormationViolation, "CALLERROR must have exactly 5 elements");
                if (root[2].ValueKind != JsonValueKind.String || root[3].ValueKind != JsonValueKind.String
                    || root[4].ValueKind != JsonValueKind.Object)
                    throw new OcppFrameException(messageId, OcppErrorCode.FormationViolation,
                        "CALLERROR must be [4, id, code, description, details-object]");
                return new OcppFrame(document, OcppMessageType.CallError, messageId, null, root[4], root[2].GetString(), root[3].GetString());
            }
            default:
                throw new OcppFrameException(messageId, OcppErrorCode.FormationViolation,
                    $"Unknown message type {typeNumber}; expected 2, 3 or 4");
        }
    }

    private static string TryMessageId(JsonElement root, int length)
    {
        if (length >= 2 && root[1].ValueKind == JsonValueKind.String && root[1].GetString() is { Length: > 0 and <= MaxMessageIdLength } id)
            return id;
        return UnknownMessageId;
    }
}

/// <summary>A frame that cannot be processed; <see cref="MessageId"/> is what the CALLERROR should echo.</summary>
public sealed class OcppFrameException(string messageId, OcppErrorCode code, string description) : Exception(description)
{
    public string MessageId { get; } = messageId;
    public OcppErrorCode Code { get; } = code;
    public string Description { get; } = description;
}

/// <summary>Writes OCPP-J frames. Public so charger simulators and the WebSocket transport reuse one encoder.</summary>
public static class OcppFrameWriter
{
    private static readonly JsonWriterOptions WriterOptions = new() { Indented = false, SkipValidation = false };

    /// <summary><c>[2, id, action, payload]</c>; <paramref name="payloadJson"/> must be a JSON object.</summary>
    public static byte[] Call(string messageId, string action, string payloadJson) =>
        Write(w =>
        {
            w.WriteStartArray();
            w.WriteNumberValue((int)OcppMessageType.Call);
            w.WriteStringValue(messageId);
            w.WriteStringValue(action);
            w.WriteRawValue(payloadJson, skipInputValidation: false);
            w.WriteEndArray();
        });

    /// <summary><c>[2, id, action, payload]</c> with the payload written by <paramref name="writePayload"/>.</summary>
    public static byte[] Call(string messageId, string action, Action<Utf8JsonWriter> writePayload) =>
        Write(w =>
        {
            w.WriteStartArray();
            w.WriteNumberValue((int)OcppMessageType.Call);
            w.WriteStringValue(messageId);
            w.WriteStringValue(action);
            w.WriteStartObject();
            writePayload(w);
            w.WriteEndObject();
            w.WriteEndArray();
        });

    /// <summary><c>[3, id, {payload}]</c>; <paramref name="writePayload"/> writes the object's properties.</summary>
    public static byte[] CallResult(string messageId, Action<Utf8JsonWriter>? writePayload) =>
        Write(w =>
        {
            w.WriteStartArray();
            w.WriteNumberValue((int)OcppMessageType.CallResult);
            w.WriteStringValue(messageId);
            w.WriteStartObject();
            writePayload?.Invoke(w);
            w.WriteEndObject();
            w.WriteEndArray();
        });

    /// <summary><c>[4, id, code, description, {}]</c>. Descriptions must never carry exception text or stack traces.</summary>
    public static byte[] CallError(string messageId, OcppErrorCode code, string description) =>
        Write(w =>
        {
            w.WriteStartArray();
            w.WriteNumberValue((int)OcppMessageType.CallError);
            w.WriteStringValue(messageId);
            w.WriteStringValue(code.ToWire());
            w.WriteStringValue(description);
            w.WriteStartObject();
            w.WriteEndObject();
            w.WriteEndArray();
        });

    /// <summary>OCPP timestamps: UTC, millisecond precision, <c>Z</c> suffix.</summary>
    public static string Timestamp(DateTimeOffset value) =>
        value.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", System.Globalization.CultureInfo.InvariantCulture);

    private static byte[] Write(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
            write(writer);
        return buffer.WrittenSpan.ToArray();
    }
}
