using EvCharge.Charging;
using EvCharge.Ocpp;

namespace EvCharge.UnitTests.Ocpp;

/// <summary>Records what the dispatcher hands the charger grain and answers with canned results.</summary>
internal sealed class FakeChargerGrain : IChargerGrain
{
    public List<object> Calls { get; } = [];
    public Exception? Throw { get; set; }
    public PaymentAuthorizationResult PaymentResult { get; set; } =
        new(AuthorizationStatus.Accepted, "AUTH-1234567890", "s-1", 30000, null);
    public IdTagInfo? StopAnswer { get; set; } = new(IdTagStatus.Accepted);

    private Task<T> Answer<T>(object call, T value)
    {
        Calls.Add(call);
        return Throw is null ? Task.FromResult(value) : Task.FromException<T>(Throw);
    }

    private Task Answer(object call) => Answer(call, true);

    public Task Register(ChargerRegistration registration) => Answer(registration);
    public Task<ChargerView> GetView() => throw new NotSupportedException();
    public Task<bool> CheckPassword(string password) => Answer(password, password == "secret");
    public Task AttachLink(IChargerLink link) => Answer(link);
    public Task AttachConnection(IChargerLink connection) => Answer(connection);
    public Task DetachConnection(IChargerLink connection) => Answer(connection);
    public Task<BootResult> Boot(BootNotification boot) =>
        Answer(boot, new BootResult(RegistrationStatus.Accepted, new DateTimeOffset(2025, 1, 31, 9, 0, 0, TimeSpan.Zero), 300));
    public Task<DateTimeOffset> Heartbeat() => Answer("Heartbeat", new DateTimeOffset(2025, 1, 31, 9, 0, 1, TimeSpan.Zero));
    public Task StatusChanged(StatusNotification status) => Answer(status);
    public Task<PaymentAuthorizationResult> AuthorizePayment(int connectorId, PaymentPresentation payment) =>
        Answer((connectorId, payment), PaymentResult);
    public Task<IdTagInfo> Authorize(string idTag) => Answer(idTag, new IdTagInfo(IdTagStatus.Accepted));
    public Task<StartTransactionResult> StartTransaction(StartTransaction start) =>
        Answer(start, new StartTransactionResult(42, new IdTagInfo(IdTagStatus.Accepted)));
    public Task MeterValues(MeterValues values) => Answer(values);
    public Task<IdTagInfo?> StopTransaction(StopTransaction stop) => Answer(stop, StopAnswer);
    public Task ReportFee(ChargerFeeReport report) => Answer(report);
    public Task<bool> RemoteStop(int transactionId, string reason) => Answer((transactionId, reason), true);
    public Task SessionEnded(string sessionId, int? transactionId) => Answer((sessionId, transactionId));
    public Task<IReadOnlyList<UnreconciledMessage>> GetUnreconciled() => Answer("GetUnreconciled", (IReadOnlyList<UnreconciledMessage>)[]);
    public Task<RemoteStartResult> RemoteStart(RemoteStartRequest request) => Answer(request, new RemoteStartResult(true, true, null, 30000));
    public Task RemoteStartAnswered(string sessionId, bool accepted, string? detail) => Answer(("RemoteStartAnswered", sessionId, accepted, detail));
}
