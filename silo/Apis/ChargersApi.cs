using System.Security.Claims;
using EvCharge.Charging;
using EvCharge.Silo.Security;
using Microsoft.AspNetCore.Http.HttpResults;

namespace EvCharge.Silo.Apis;

/// <summary>
/// A charger's registration. <c>securityProfile</c> (1, 2 or 3, OCPP 1.6 security whitepaper) pins how it must log in
/// over WebSocket; omitted, it may use HTTP Basic over ws:// or wss:// (docs/protocol.md section 8). A profile-3
/// charger logs in with its certificate and needs no password. <c>pricingMessages</c>: the charger shows prices from the OCA
/// California pricing DataTransfer messages (docs/protocol.md); omitted, the charger's current setting stays.
/// </summary>
public sealed record ChargerBody(string? CpoId, int? ConnectorCount, string? TariffId, long? HoldAmount, string? Password = null, string? Model = null,
    string? Location = null, int? SecurityProfile = null, bool? PricingMessages = null);

/// <summary>A charger as operators see it. The charger's password is write-only: it is stored as a hash and never returned.</summary>
public sealed record ChargerResponse(
    string ChargerId, string CpoId, int ConnectorCount, string TariffId, long HoldAmount, string? Model, string? Location,
    bool Online, DateTimeOffset? LastSeen, string? Vendor, string? FirmwareVersion, IReadOnlyList<ConnectorResponse> Connectors,
    int? SecurityProfile = null, bool PricingMessages = false);

public sealed record LiveTransaction(int ConnectorId, ConnectorStatus Status, string SessionId, int? TransactionId, SessionState State,
    long EnergyWh, long HoldAmount, DateTimeOffset? StartedAt, bool Seamless);

public sealed record RemoteStopBody(int? TransactionId, string? Reason = null);
public sealed record RemoteStopResponse(string ChargerId, int TransactionId, bool Sent);

public static class ChargersApi
{
    public static RouteGroupBuilder MapChargersApi(this RouteGroupBuilder api)
    {
        var chargers = api.MapGroup("/chargers").WithTags("Chargers");
        chargers.MapPut("/{chargerId}", PutCharger).RequireAuthorization(EvChargePolicies.Operator)
            .ProducesProblem(StatusCodes.Status409Conflict).ProducesProblem(StatusCodes.Status422UnprocessableEntity)
            .WithSummary("Register or reconfigure a charger (CPO, connectors, tariff, hold amount, password, WebSocket security profile)");
        chargers.MapGet("/{chargerId}", GetCharger).ProducesProblem(StatusCodes.Status404NotFound).WithSummary("Status, registration and connectors");
        chargers.MapGet("/{chargerId}/connectors", GetConnectors).ProducesProblem(StatusCodes.Status404NotFound).WithSummary("Connector states");
        chargers.MapGet("/{chargerId}/transactions/live", GetLive).ProducesProblem(StatusCodes.Status404NotFound)
            .WithSummary("Transactions in progress on the charger");
        chargers.MapPost("/{chargerId}/remote-stop", RemoteStop).RequireAuthorization(EvChargePolicies.Operator)
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict)
            .WithSummary("Ask the charger to stop a live transaction (OCPP RemoteStopTransaction)");
        chargers.MapGet("/{chargerId}/connectors/{connectorId:int}/qr", GetQrCode).ProducesProblem(StatusCodes.Status404NotFound)
            .Produces(StatusCodes.Status200OK, typeof(byte[]), "image/png", "image/svg+xml")
            .WithSummary("The QR code to print next to a connector: its Scan & Charge page (format png or svg; pixelsPerModule 2-40)");
        chargers.MapGet("/{chargerId}/unreconciled", GetUnreconciled).ProducesProblem(StatusCodes.Status404NotFound)
            .WithSummary("StopTransaction/MeterValues for transaction ids the server never issued");
        api.MapGet("/cpos/{cpoId}/chargers", ListForCpo).WithTags("Chargers").ProducesProblem(StatusCodes.Status404NotFound)
            .WithSummary("The CPO's chargers with their status");
        return api;
    }

    private static async Task<Results<Created<ChargerResponse>, Ok<ChargerResponse>, ProblemHttpResult>> PutCharger(string chargerId, ChargerBody? body, IGrainFactory grains)
    {
        var (charger, created, problem) = await RegisterAsync(chargerId, body, grains);
        if (problem is not null) return problem;
        if (created) return TypedResults.Created($"/api/v1/chargers/{chargerId}", charger);
        return TypedResults.Ok(charger);
    }

    /// <summary>Validates and applies a registration (the API's PUT and the console's registration form).</summary>
    internal static async Task<(ChargerResponse? Charger, bool Created, ProblemHttpResult? Problem)> RegisterAsync(string chargerId, ChargerBody? body, IGrainFactory grains)
    {
        var e = new FieldErrors();
        e.Id("chargerId", chargerId);
        if (body is null) return (null, false, e.Add("body", "is required").ToResult());
        e.Id("cpoId", body.CpoId);
        e.Range("connectorCount", body.ConnectorCount, 1, 16);
        e.Id("tariffId", body.TariffId);
        e.Range("holdAmount", body.HoldAmount, 1_000, 1_000_000);
        if (body.Password is not null && body.Password.Length is < 12 or > 128) e.Add("password", "must be 12-128 characters");
        if (body.Model is { Length: > 64 }) e.Add("model", "must be at most 64 characters");
        if (body.Location is { Length: > 256 }) e.Add("location", "must be at most 256 characters");
        e.Range("securityProfile", body.SecurityProfile, 1, 3, required: false);
        if (e.Any) return (null, false, e.ToResult());

        var contract = await grains.GetGrain<ICpoGrain>(body.CpoId!).GetContract();
        if (contract is null) return (null, false, ApiProblems.Unprocessable($"CPO {body.CpoId} has no contract; PUT /api/v1/cpos/{body.CpoId} first.", "unknown_cpo"));
        if (contract.Tariffs.All(t => t.TariffId != body.TariffId))
            return (null, false, ApiProblems.Unprocessable($"CPO {body.CpoId} has no tariff {body.TariffId}.", "unknown_tariff"));
        var charger = grains.GetGrain<IChargerGrain>(chargerId);
        var before = await charger.GetView();
        var profile = (OcppSecurityProfile?)body.SecurityProfile;
        if (before.Registration is null && body.Password is null && profile != OcppSecurityProfile.TlsClientCertificate)
            return (null, false, new FieldErrors().Add("password", "is required when a charger is first registered (unless it uses security profile 3)").ToResult());
        if (before.Registration is { } old && old.ConnectorCount > body.ConnectorCount)
            return (null, false, ApiProblems.Conflict("Connectors cannot be removed from a registered charger.", "connectors_shrink"));

        await charger.Register(new ChargerRegistration(body.CpoId!, body.ConnectorCount!.Value, body.TariffId!, body.HoldAmount!.Value,
            body.Password, body.Model, body.Location, profile, body.PricingMessages ?? before.Registration?.PricingMessages ?? false));
        return (ToResponse(await charger.GetView()), before.Registration is null, null);
    }

    private static async Task<Results<Ok<ChargerResponse>, ProblemHttpResult>> GetCharger(string chargerId, ClaimsPrincipal user, IGrainFactory grains)
    {
        var (view, problem) = await Visible(chargerId, user, grains);
        if (problem is not null) return problem;
        return TypedResults.Ok(ToResponse(view!));
    }

    private static async Task<Results<Ok<List<ConnectorResponse>>, ProblemHttpResult>> GetConnectors(string chargerId, ClaimsPrincipal user, IGrainFactory grains)
    {
        var (view, problem) = await Visible(chargerId, user, grains);
        if (problem is not null) return problem;
        return TypedResults.Ok(view!.Connectors.Select(c => c.ToResponse()).ToList());
    }

    private static async Task<Results<Ok<List<LiveTransaction>>, ProblemHttpResult>> GetLive(string chargerId, ClaimsPrincipal user, IGrainFactory grains)
    {
        var (view, problem) = await Visible(chargerId, user, grains);
        if (problem is not null) return problem;
        return TypedResults.Ok(await LiveAsync(view!, grains));
    }

    /// <summary>The session behind each busy connector (also the console's charger page).</summary>
    internal static async Task<List<LiveTransaction>> LiveAsync(ChargerView view, IGrainFactory grains)
    {
        var live = new List<LiveTransaction>();
        foreach (var c in view.Connectors.Where(c => c.SessionId is not null))
        {
            var s = await grains.GetGrain<IChargingSessionGrain>(c.SessionId!).GetView();
            live.Add(new LiveTransaction(c.ConnectorId, c.Status, s.SessionId, c.TransactionId ?? s.TransactionId, s.State, s.EnergyWh, s.HoldAmount, s.StartedAt, s.Seamless));
        }
        return live;
    }

    private static async Task<Results<Accepted<RemoteStopResponse>, ProblemHttpResult>> RemoteStop(string chargerId, RemoteStopBody? body, IGrainFactory grains, ClaimsPrincipal user)
    {
        var e = new FieldErrors();
        if (body is null) return e.Add("body", "is required").ToResult();
        e.Range("transactionId", body.TransactionId, 1, int.MaxValue);
        if (body.Reason is { Length: > 128 }) e.Add("reason", "must be at most 128 characters");
        if (e.Any) return e.ToResult();
        var (view, problem) = await Visible(chargerId, user, grains);
        if (problem is not null) return problem;
        if (await SendRemoteStopAsync(view!, body.TransactionId!.Value, body.Reason ?? "operator", grains) is { } refused) return refused;
        return TypedResults.Accepted($"/api/v1/chargers/{chargerId}/transactions/live", new RemoteStopResponse(chargerId, body.TransactionId.Value, true));
    }

    /// <summary>RemoteStopTransaction for a live transaction; a problem (409) when it is not live or could not be sent.</summary>
    internal static async Task<ProblemHttpResult?> SendRemoteStopAsync(ChargerView view, int transactionId, string reason, IGrainFactory grains)
    {
        if (view.Connectors.All(c => c.TransactionId != transactionId))
            return ApiProblems.Conflict($"Transaction {transactionId} is not live on charger {view.ChargerId}.", "transaction_not_live");
        return await grains.GetGrain<IChargerGrain>(view.ChargerId).RemoteStop(transactionId, reason)
            ? null
            : ApiProblems.Conflict($"Charger {view.ChargerId} is not connected or refused the stop.", "remote_stop_not_sent");
    }

    private static async Task<Results<Ok<List<UnreconciledMessageResponse>>, ProblemHttpResult>> GetUnreconciled(string chargerId, ClaimsPrincipal user, IGrainFactory grains)
    {
        var (_, problem) = await Visible(chargerId, user, grains);
        if (problem is not null) return problem;
        return TypedResults.Ok((await grains.GetGrain<IChargerGrain>(chargerId).GetUnreconciled()).Select(m => m.ToResponse()).ToList());
    }

    private static async Task<Results<Ok<List<ChargerResponse>>, ProblemHttpResult>> ListForCpo(string cpoId, ClaimsPrincipal user, IGrainFactory grains)
    {
        var (_, problem) = await CposApi.Contract(cpoId, user, grains);
        if (problem is not null) return problem;
        var list = new List<ChargerResponse>();
        foreach (var id in await grains.GetGrain<ICpoGrain>(cpoId).GetChargers())
        {
            var view = await grains.GetGrain<IChargerGrain>(id).GetView();
            // A charger moved to another CPO stays in the old CPO's list; its registration is the truth.
            if (view.Registration?.CpoId == cpoId) list.Add(ToResponse(view));
        }
        return TypedResults.Ok(list);
    }

    /// <summary>404 both for unknown chargers and other CPOs' chargers: a CPO key learns nothing about others.</summary>
    internal static async Task<(ChargerView? View, ProblemHttpResult? Problem)> Visible(string chargerId, ClaimsPrincipal user, IGrainFactory grains)
    {
        if (!FieldErrors.IsId(chargerId)) return (null, ApiProblems.InvalidId("chargerId"));
        var view = await grains.GetGrain<IChargerGrain>(chargerId).GetView();
        if (view.Registration is null || !CallerScope.From(user).CanSee(view.Registration.CpoId))
            return (null, ApiProblems.NotFound($"No charger {chargerId}."));
        return (view, null);
    }

    internal static ChargerResponse ToResponse(ChargerView v) => new(
        v.ChargerId, v.Registration!.CpoId, v.Registration.ConnectorCount, v.Registration.TariffId, v.Registration.HoldAmount,
        v.Registration.Model, v.Registration.Location, v.Online, v.LastSeen, v.Vendor, v.FirmwareVersion, v.Connectors.Select(c => c.ToResponse()).ToList(),
        (int?)v.Registration.SecurityProfile, v.Registration.PricingMessages);

    private static async Task<Results<FileContentHttpResult, ProblemHttpResult>> GetQrCode(string chargerId, int connectorId, string? format, int? pixelsPerModule,
        ClaimsPrincipal user, IGrainFactory grains, Microsoft.Extensions.Options.IOptions<EvCharge.Driver.DriverOptions> driver, HttpRequest request)
    {
        var e = new FieldErrors();
        if (format is not (null or "png" or "svg")) e.Add("format", "must be png or svg");
        e.Range("pixelsPerModule", pixelsPerModule, 2, 40, required: false);
        if (e.Any) return e.ToResult();
        var (view, problem) = await Visible(chargerId, user, grains);
        if (problem is not null) return problem;
        if (view!.Connectors.All(c => c.ConnectorId != connectorId))
            return TypedResults.Problem($"Charger {chargerId} has no connector {connectorId}.", statusCode: StatusCodes.Status404NotFound);
        var root = driver.Value.PublicBaseUrl ?? new Uri($"{request.Scheme}://{request.Host}");
        var url = EvCharge.Silo.Driver.ConnectorQrCodes.PageUrl(root, chargerId, connectorId);
        var size = pixelsPerModule ?? 10;
        return format == "svg"
            ? TypedResults.File(System.Text.Encoding.UTF8.GetBytes(EvCharge.Silo.Driver.ConnectorQrCodes.Svg(url, size)), "image/svg+xml", $"{chargerId}-{connectorId}.svg")
            : TypedResults.File(EvCharge.Silo.Driver.ConnectorQrCodes.Png(url, size), "image/png", $"{chargerId}-{connectorId}.png");
    }
}
