using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Serialization;
using EvCharge.Silo.Apis;
using EvCharge.Silo.Health;
using EvCharge.Silo.Security;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.OpenApi;
using Orleans.Dashboard;
using Scalar.AspNetCore;

namespace EvCharge.Silo.Extensions;

/// <summary>The operators' REST facade: /api/v1 route groups, OpenAPI at /openapi/v1.json, reference at /docs.</summary>
public static class ApiExtensions
{
    public static WebApplicationBuilder AddEvChargeApi(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddProblemDetails(o => o.CustomizeProblemDetails = ctx =>
        {
            if (Activity.Current is { } activity) ctx.ProblemDetails.Extensions.TryAdd("traceId", activity.TraceId.ToString());
        });
        services.AddExceptionHandler<ApiExceptionHandler>();
        // Binding failures (malformed JSON) are thrown so ApiExceptionHandler can answer them as field errors.
        services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        services.Configure<JsonOptions>(o =>
        {
            o.SerializerOptions.Converters.Add(new JsonStringEnumConverter());
            o.SerializerOptions.UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow;
            // Numbers are JSON numbers, in and out: the web defaults also read "1000" for 1000, which made every
            // integer in the OpenAPI document "integer or string" and every generated client wrap amounts in a union.
            o.SerializerOptions.NumberHandling = JsonNumberHandling.Strict;
        });
        services.AddOpenApi("v1", o =>
        {
            // The contract is the REST API; the Orleans dashboard's own endpoints (HTML and its JSON feed) are not part of it.
            o.ShouldInclude = description => description.RelativePath?.StartsWith("api/", StringComparison.Ordinal) == true;
            o.AddDocumentTransformer((document, _, _) =>
            {
                document.Info = new OpenApiInfo
                {
                    Title = "EvCharge operators' API",
                    Version = "v1",
                    Description = "CPOs, chargers, tariffs, sessions, refunds, payee settlement, reconciliation and ledger checks. " +
                                  "Authenticate with an API key in the X-Api-Key header. Errors are RFC 9457 problem details.",
                };
                // No "servers": the document is the same on every host (clients set their base address), so the committed
                // copy and the generated client can be compared with what any running silo serves.
                document.Servers = [];
                document.Components ??= new OpenApiComponents();
                document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
                document.Components.SecuritySchemes[ApiKeyAuthenticationHandler.SchemeName] = new OpenApiSecurityScheme
                {
                    Type = SecuritySchemeType.ApiKey,
                    In = ParameterLocation.Header,
                    Name = ApiKeyAuthenticationHandler.HeaderName,
                    Description = "Operator or CPO key from Auth:ApiKeys",
                };
                document.Security ??= [];
                document.Security.Add(new OpenApiSecurityRequirement
                {
                    [new OpenApiSecuritySchemeReference(ApiKeyAuthenticationHandler.SchemeName, document)] = [],
                });
                return Task.CompletedTask;
            });
        });
        services.AddEvChargeAuth(builder.Configuration);
        return builder;
    }

    public static WebApplication MapEvChargeApi(this WebApplication app)
    {
        app.UseExceptionHandler();
        app.UseStatusCodePages(); // empty 401/403/404/405 answers become problem details too
        app.UseAuthentication();
        app.UseAuthorization();

        app.MapOpenApi("/openapi/{documentName}.json").AllowAnonymous();
        app.MapScalarApiReference("/docs", o => o
            .WithTitle("EvCharge operators' API")
            .WithOpenApiRoutePattern("/openapi/{documentName}.json")
            .AddDocument("v1")).AllowAnonymous();

        var api = app.MapGroup("/api/v1").RequireAuthorization(EvChargePolicies.Reader).ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status403Forbidden).ProducesValidationProblem();
        api.MapCposApi()
            .MapChargersApi()
            .MapSessionsApi()
            .MapPaymentsApi()
            .MapPayeesApi()
            .MapReconciliationApi()
            .MapLedgerApi()
            .MapVehiclesApi();

        app.MapEvChargeHealth();
        if (app.Configuration.GetValue("Dashboard:Enabled", true)) // the dashboard's services exist only when enabled
            app.MapOrleansDashboard("/dashboard").RequireAuthorization(EvChargePolicies.Operator);
        return app;
    }
}

/// <summary>
/// Exceptions as problem details: unreadable bodies are 400 with the JSON path as the field, grain argument
/// checks 400, anything else 500 without internals (the log has them; the answer carries the trace id).
/// </summary>
internal sealed class ApiExceptionHandler(IProblemDetailsService problems, ILogger<ApiExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken ct)
    {
        Microsoft.AspNetCore.Mvc.ProblemDetails problem;
        switch (exception)
        {
            case BadHttpRequestException bad:
                var field = bad.InnerException is JsonException { Path: { Length: > 2 } path } ? path.TrimStart('$', '.') : "body";
                var message = bad.InnerException is JsonException ? "is not valid JSON for this request" : bad.Message;
                problem = new Microsoft.AspNetCore.Mvc.ValidationProblemDetails(new Dictionary<string, string[]> { [field] = [message] })
                {
                    Status = bad.StatusCode, Title = "The request is not valid.",
                };
                break;
            case ArgumentException arg:
                problem = new Microsoft.AspNetCore.Mvc.ProblemDetails { Status = 400, Title = "The request is not valid.", Detail = arg.Message };
                break;
            default:
                logger.LogError(exception, "Unhandled error on {Method} {Path}", context.Request.Method, context.Request.Path);
                problem = new Microsoft.AspNetCore.Mvc.ProblemDetails { Status = 500, Title = "An unexpected error occurred." };
                break;
        }
        context.Response.StatusCode = problem.Status!.Value;
        return await problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = context, ProblemDetails = problem, Exception = exception });
    }
}
