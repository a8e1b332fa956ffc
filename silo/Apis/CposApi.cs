using EvCharge.Charging;
using EvCharge.Silo.Security;
using Microsoft.AspNetCore.Http.HttpResults;
using System.Security.Claims;

namespace EvCharge.Silo.Apis;

public sealed record CommissionBody(int? BasisPoints, long? FixedPerSession = null);
public sealed record CpoContractBody(string? Name, string? PayeeAccount, CommissionBody? Commission, List<TariffBody>? Tariffs);

/// <summary>CPOs and their contract with the platform: commission, payee account, tariffs (tariffs also under /tariffs).</summary>
public static class CposApi
{
    public static RouteGroupBuilder MapCposApi(this RouteGroupBuilder api)
    {
        var cpos = api.MapGroup("/cpos").WithTags("CPOs");
        cpos.MapGet("/", ListCpos).WithSummary("CPOs with a contract (a CPO key sees only its own)");
        cpos.MapPut("/{cpoId}", PutContract).RequireAuthorization(EvChargePolicies.Operator)
            .WithSummary("Create or replace a CPO's contract (commission, payee account, tariffs)");
        cpos.MapGet("/{cpoId}", GetCpo).ProducesProblem(StatusCodes.Status404NotFound).WithSummary("A CPO's contract and chargers");

        var tariffs = cpos.MapGroup("/{cpoId}/tariffs").WithTags("Tariffs");
        tariffs.MapGet("/", ListTariffs).ProducesProblem(StatusCodes.Status404NotFound).WithSummary("The CPO's tariffs");
        tariffs.MapGet("/{tariffId}", GetTariff).ProducesProblem(StatusCodes.Status404NotFound).WithSummary("One tariff");
        tariffs.MapPut("/{tariffId}", PutTariff).RequireAuthorization(EvChargePolicies.Operator).ProducesProblem(StatusCodes.Status404NotFound)
            .WithSummary("Create or replace a tariff in the CPO's contract");
        tariffs.MapDelete("/{tariffId}", DeleteTariff).RequireAuthorization(EvChargePolicies.Operator)
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict)
            .WithSummary("Remove a tariff no charger of the CPO uses");
        return api;
    }

    private static async Task<Ok<List<CpoResponse>>> ListCpos(ClaimsPrincipal user, IGrainFactory grains)
    {
        var scope = CallerScope.From(user);
        var ids = scope.IsOperator ? await grains.GetGrain<ICpoDirectoryGrain>(0).GetCpoIds() : [scope.CpoId!];
        var list = new List<CpoResponse>();
        foreach (var id in ids.Order(StringComparer.Ordinal))
        {
            var cpo = grains.GetGrain<ICpoGrain>(id);
            if (await cpo.GetContract() is { } contract) list.Add(new CpoResponse(id, contract.ToResponse(), await cpo.GetChargers()));
        }
        return TypedResults.Ok(list);
    }

    private static async Task<Results<Ok<CpoResponse>, ProblemHttpResult>> PutContract(string cpoId, CpoContractBody? body, IGrainFactory grains)
    {
        var e = new FieldErrors();
        e.Id("cpoId", cpoId);
        if (body is null) return e.Add("body", "is required").ToResult();
        e.Require("name", body.Name);
        e.Id("payeeAccount", body.PayeeAccount);
        if (body.Commission is null) e.Add("commission", "is required");
        else
        {
            e.Range("commission.basisPoints", body.Commission.BasisPoints, 0, 10_000);
            e.Range("commission.fixedPerSession", body.Commission.FixedPerSession, 0, 1_000_000, required: false);
        }
        if (body.Tariffs is null || body.Tariffs.Count == 0) e.Add("tariffs", "at least one tariff is required");
        else
        {
            for (var i = 0; i < body.Tariffs.Count; i++)
                if (body.Tariffs[i] is null) e.Add($"tariffs[{i}]", "is required");
                else body.Tariffs[i].Validate(e, $"tariffs[{i}].");
            if (body.Tariffs.Where(t => t?.TariffId is not null).GroupBy(t => t.TariffId).Any(g => g.Count() > 1))
                e.Add("tariffs", "tariff ids must be unique");
        }
        if (e.Any) return e.ToResult();

        var contract = new CpoContract(body.Name!, body.PayeeAccount!,
            new Commission(body.Commission!.BasisPoints!.Value, body.Commission.FixedPerSession ?? 0),
            body.Tariffs!.Select(t => t.ToTariff()).ToList());
        var cpo = grains.GetGrain<ICpoGrain>(cpoId);
        await cpo.SetContract(contract);
        return TypedResults.Ok(new CpoResponse(cpoId, contract.ToResponse(), await cpo.GetChargers()));
    }

    private static async Task<Results<Ok<CpoResponse>, ProblemHttpResult>> GetCpo(string cpoId, ClaimsPrincipal user, IGrainFactory grains)
    {
        var (contract, problem) = await Contract(cpoId, user, grains);
        if (problem is not null) return problem;
        return TypedResults.Ok(new CpoResponse(cpoId, contract!.ToResponse(), await grains.GetGrain<ICpoGrain>(cpoId).GetChargers()));
    }

    private static async Task<Results<Ok<List<TariffResponse>>, ProblemHttpResult>> ListTariffs(string cpoId, ClaimsPrincipal user, IGrainFactory grains)
    {
        var (contract, problem) = await Contract(cpoId, user, grains);
        if (problem is not null) return problem;
        return TypedResults.Ok(contract!.Tariffs.Select(t => t.ToResponse()).ToList());
    }

    private static async Task<Results<Ok<TariffResponse>, ProblemHttpResult>> GetTariff(string cpoId, string tariffId, ClaimsPrincipal user, IGrainFactory grains)
    {
        var (contract, problem) = await Contract(cpoId, user, grains);
        if (problem is not null) return problem;
        var tariff = contract!.Tariffs.FirstOrDefault(t => t.TariffId == tariffId);
        if (tariff is null) return ApiProblems.NotFound($"CPO {cpoId} has no tariff {tariffId}.");
        return TypedResults.Ok(tariff.ToResponse());
    }

    private static async Task<Results<Ok<TariffResponse>, ProblemHttpResult>> PutTariff(string cpoId, string tariffId, TariffBody? body, ClaimsPrincipal user, IGrainFactory grains)
    {
        var e = new FieldErrors();
        e.Id("tariffId", tariffId);
        if (body is null) return e.Add("body", "is required").ToResult();
        body.Validate(e, "", tariffId);
        if (e.Any) return e.ToResult();
        var (contract, problem) = await Contract(cpoId, user, grains);
        if (problem is not null) return problem;
        var tariff = body.ToTariff(tariffId);
        var tariffs = contract!.Tariffs.Where(t => t.TariffId != tariffId).Append(tariff).ToList();
        await grains.GetGrain<ICpoGrain>(cpoId).SetContract(contract with { Tariffs = tariffs });
        return TypedResults.Ok(tariff.ToResponse());
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> DeleteTariff(string cpoId, string tariffId, ClaimsPrincipal user, IGrainFactory grains)
    {
        var (contract, problem) = await Contract(cpoId, user, grains);
        if (problem is not null) return problem;
        if (contract!.Tariffs.All(t => t.TariffId != tariffId)) return ApiProblems.NotFound($"CPO {cpoId} has no tariff {tariffId}.");
        var cpo = grains.GetGrain<ICpoGrain>(cpoId);
        foreach (var chargerId in await cpo.GetChargers())
        {
            var reg = (await grains.GetGrain<IChargerGrain>(chargerId).GetView()).Registration;
            if (reg is not null && reg.CpoId == cpoId && reg.TariffId == tariffId)
                return ApiProblems.Conflict($"Charger {chargerId} uses tariff {tariffId}; move it to another tariff first.", "tariff_in_use");
        }
        if (contract.Tariffs.Count == 1) return ApiProblems.Conflict("A contract keeps at least one tariff.", "last_tariff");
        await cpo.SetContract(contract with { Tariffs = contract.Tariffs.Where(t => t.TariffId != tariffId).ToList() });
        return TypedResults.NoContent();
    }

    internal static async Task<(CpoContract? Contract, ProblemHttpResult? Problem)> Contract(string cpoId, ClaimsPrincipal user, IGrainFactory grains)
    {
        if (!FieldErrors.IsId(cpoId)) return (null, ApiProblems.InvalidId("cpoId"));
        if (!CallerScope.From(user).CanSee(cpoId)) return (null, ApiProblems.Forbidden("A CPO key sees only its own CPO."));
        var contract = await grains.GetGrain<ICpoGrain>(cpoId).GetContract();
        return contract is null ? (null, ApiProblems.NotFound($"CPO {cpoId} has no contract.")) : (contract, null);
    }
}
