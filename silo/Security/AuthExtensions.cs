using Microsoft.AspNetCore.Authentication;

namespace EvCharge.Silo.Security;

public static class AuthExtensions
{
    /// <summary>API-key authentication from <c>Auth:ApiKeys</c> and the two policies. Bad key configuration stops the start.</summary>
    public static IServiceCollection AddEvChargeAuth(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<ApiAuthOptions>()
            .Bind(configuration.GetSection(ApiAuthOptions.SectionName))
            .Validate(o => !o.Problems().Any(), "Auth:ApiKeys is invalid (each key at least 16 characters and unique; Cpo keys need a CpoId)")
            .ValidateOnStart();
        services.AddSingleton<ApiKeyStore>();
        services.AddAuthentication(ApiKeyAuthenticationHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null);
        services.AddAuthorizationBuilder()
            .AddPolicy(EvChargePolicies.Operator, p => p.RequireAuthenticatedUser().RequireRole(nameof(ApiRole.Operator)))
            .AddPolicy(EvChargePolicies.Reader, p => p.RequireAuthenticatedUser()
                .RequireAssertion(c => c.User.IsInRole(nameof(ApiRole.Operator)) || c.User.HasClaim(cl => cl.Type == EvChargeClaims.CpoId)));
        return services;
    }
}
