namespace EvCharge.ChargerBridge.Ocpp;

/// <summary>The CALLERROR codes OCPP-J 1.6 (section 4.2.3) names. Spelling follows the spec, including "Occurence".</summary>
public enum OcppErrorCode
{
    /// <summary>The action is not known to the receiver.</summary>
    NotImplemented,
    /// <summary>The action is known but the central system does not support it.</summary>
    NotSupported,
    /// <summary>The receiver failed while handling a well-formed request.</summary>
    InternalError,
    /// <summary>The frame or payload is incomplete.</summary>
    ProtocolError,
    /// <summary>A security issue prevented the action.</summary>
    SecurityError,
    /// <summary>The frame or payload is syntactically wrong or does not follow the PDU's structure.</summary>
    FormationViolation,
    /// <summary>A field holds a value that is not allowed (enum, range, length).</summary>
    PropertyConstraintViolation,
    /// <summary>A field occurs too few or too many times (a required field is missing).</summary>
    OccurenceConstraintViolation,
    /// <summary>A field has the wrong data type, for example a string where an integer belongs.</summary>
    TypeConstraintViolation,
    /// <summary>Anything the other codes do not cover.</summary>
    GenericError,
}

public static class OcppErrorCodes
{
    public static string ToWire(this OcppErrorCode code) => code switch
    {
        OcppErrorCode.NotImplemented => "NotImplemented",
        OcppErrorCode.NotSupported => "NotSupported",
        OcppErrorCode.InternalError => "InternalError",
        OcppErrorCode.ProtocolError => "ProtocolError",
        OcppErrorCode.SecurityError => "SecurityError",
        OcppErrorCode.FormationViolation => "FormationViolation",
        OcppErrorCode.PropertyConstraintViolation => "PropertyConstraintViolation",
        OcppErrorCode.OccurenceConstraintViolation => "OccurenceConstraintViolation",
        OcppErrorCode.TypeConstraintViolation => "TypeConstraintViolation",
        _ => "GenericError",
    };

    public static bool TryParse(string? wire, out OcppErrorCode code)
    {
        foreach (var candidate in Enum.GetValues<OcppErrorCode>())
        {
            if (string.Equals(candidate.ToWire(), wire, StringComparison.Ordinal))
            {
                code = candidate;
                return true;
            }
        }
        code = OcppErrorCode.GenericError;
        return false;
    }
}

/// <summary>
/// A request the central system refuses with a CALLERROR. Thrown by frame parsing and payload validation and
/// turned into a CALLERROR frame by <see cref="OcppDispatcher"/>; never escapes to a transport.
/// </summary>
public sealed class OcppException(OcppErrorCode code, string description) : Exception(description)
{
    public OcppErrorCode Code { get; } = code;
    public string Description { get; } = description;
}
