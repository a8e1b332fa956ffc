namespace EvCharge.ChargerBridge.Ocpp;

/// <summary>
/// Facts from the OCPP 1.6 specification (section 7, data types) the validator enforces: CiString lengths and
/// the enumerations of the messages a charger sends us. Written from the spec's tables, not copied schemas.
/// </summary>
public static class OcppSchema
{
    public const int CiString20 = 20;
    public const int CiString25 = 25;
    public const int CiString50 = 50;
    public const int CiString255 = 255;
    public const int CiString500 = 500;

    /// <summary>The actions a charge point sends to the central system in OCPP 1.6.</summary>
    public static class Actions
    {
        public const string BootNotification = "BootNotification";
        public const string Heartbeat = "Heartbeat";
        public const string StatusNotification = "StatusNotification";
        public const string Authorize = "Authorize";
        public const string StartTransaction = "StartTransaction";
        public const string MeterValues = "MeterValues";
        public const string StopTransaction = "StopTransaction";
        public const string DataTransfer = "DataTransfer";
        public const string DiagnosticsStatusNotification = "DiagnosticsStatusNotification";
        public const string FirmwareStatusNotification = "FirmwareStatusNotification";
        public const string RemoteStopTransaction = "RemoteStopTransaction";
        public const string RemoteStartTransaction = "RemoteStartTransaction";
    }

    /// <summary>OCPP 1.6 actions EvCharge knows but does not handle: answered with NotSupported, not NotImplemented.</summary>
    public static readonly IReadOnlySet<string> KnownUnsupportedActions = new HashSet<string>(StringComparer.Ordinal)
    {
        Actions.DiagnosticsStatusNotification, Actions.FirmwareStatusNotification,
        // Central-system-initiated actions a charger has no business sending to us.
        "CancelReservation", "ChangeAvailability", "ChangeConfiguration", "ClearCache", "ClearChargingProfile",
        "GetCompositeSchedule", "GetConfiguration", "GetDiagnostics", "GetLocalListVersion", Actions.RemoteStartTransaction,
        Actions.RemoteStopTransaction, "ReserveNow", "Reset", "SendLocalList", "SetChargingProfile", "TriggerMessage",
        "UnlockConnector", "UpdateFirmware",
    };

    public static readonly IReadOnlySet<string> ChargePointStatus = Set(
        "Available", "Preparing", "Charging", "SuspendedEVSE", "SuspendedEV", "Finishing", "Reserved", "Unavailable",
        "Faulted");

    public static readonly IReadOnlySet<string> ChargePointErrorCode = Set(
        "ConnectorLockFailure", "EVCommunicationError", "GroundFailure", "HighTemperature", "InternalError",
        "LocalListConflict", "NoError", "OtherError", "OverCurrentFailure", "PowerMeterFailure", "PowerSwitchFailure",
        "ReaderFailure", "ResetFailure", "UnderVoltage", "OverVoltage", "WeakSignal");

    public static readonly IReadOnlySet<string> StopReason = Set(
        "EmergencyStop", "EVDisconnected", "HardReset", "Local", "Other", "PowerLoss", "Reboot", "Remote", "SoftReset",
        "UnlockCommand", "DeAuthorized");

    public static readonly IReadOnlySet<string> ReadingContext = Set(
        "Interruption.Begin", "Interruption.End", "Sample.Clock", "Sample.Periodic", "Transaction.Begin",
        "Transaction.End", "Trigger", "Other");

    public static readonly IReadOnlySet<string> ValueFormat = Set("Raw", "SignedData");

    public const string EnergyActiveImportRegister = "Energy.Active.Import.Register";

    public static readonly IReadOnlySet<string> Measurand = Set(
        "Energy.Active.Export.Register", EnergyActiveImportRegister, "Energy.Reactive.Export.Register",
        "Energy.Reactive.Import.Register", "Energy.Active.Export.Interval", "Energy.Active.Import.Interval",
        "Energy.Reactive.Export.Interval", "Energy.Reactive.Import.Interval", "Power.Active.Export",
        "Power.Active.Import", "Power.Offered", "Power.Reactive.Export", "Power.Reactive.Import", "Power.Factor",
        "Current.Import", "Current.Export", "Current.Offered", "Voltage", "Frequency", "Temperature", "SoC", "RPM");

    public static readonly IReadOnlySet<string> Phase = Set(
        "L1", "L2", "L3", "N", "L1-N", "L2-N", "L3-N", "L1-L2", "L2-L3", "L3-L1");

    public static readonly IReadOnlySet<string> Location = Set("Cable", "EV", "Inlet", "Outlet", "Body");

    // 1.6 spells "Celcius"; the errata adds "Celsius". Chargers send either.
    public static readonly IReadOnlySet<string> UnitOfMeasure = Set(
        "Wh", "kWh", "varh", "kvarh", "W", "kW", "VA", "kVA", "var", "kvar", "A", "V", "K", "Celcius", "Celsius",
        "Fahrenheit", "Percent");

    public static readonly IReadOnlySet<string> RemoteStartStopStatus = Set("Accepted", "Rejected");

    private static IReadOnlySet<string> Set(params string[] values) => new HashSet<string>(values, StringComparer.Ordinal);
}
