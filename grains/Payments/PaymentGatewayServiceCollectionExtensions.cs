using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace EvCharge.Payments;

public static class PaymentGatewayServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="IPaymentGateway"/> as the HTTP adapter to a social-sandbox (or any provider that speaks
    /// its contract, docs/sandbox.md) at <paramref name="baseAddress"/>, with a typed HttpClient and the retry
    /// pipeline of <see cref="SandboxResilience"/>.
    /// </summary>
    public static IServiceCollection AddSandboxPaymentGateway(
        this IServiceCollection services, Uri baseAddress, Action<SandboxGatewayOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(baseAddress);
        var options = services.AddOptions<SandboxGatewayOptions>();
        if (configure is not null) options.Configure(configure);

        services
            .AddHttpClient<SandboxPaymentGateway>(client =>
            {
                client.BaseAddress = baseAddress;
                client.Timeout = Timeout.InfiniteTimeSpan; // the pipeline's time-outs rule
            })
            .AddResilienceHandler("social-sandbox", static (pipeline, context) =>
                SandboxResilience.Configure(pipeline,
                    context.ServiceProvider.GetRequiredService<IOptions<SandboxGatewayOptions>>().Value));

        services.TryAddTransient<IPaymentGateway>(sp => sp.GetRequiredService<SandboxPaymentGateway>());
        return services;
    }
}
