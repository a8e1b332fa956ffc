using EvCharge.SocialSandbox;

// `dotnet run --project social-sandbox` — settings from the "Sandbox" section (appsettings, environment
// Sandbox__DataFile=..., or --Sandbox:HoldLifetime=00:10:00).
// No reload of appsettings on change: the host would watch its working directory and wake on every journal append.
if (Environment.GetEnvironmentVariable("DOTNET_hostBuilder__reloadConfigOnChange") is null)
    Environment.SetEnvironmentVariable("DOTNET_hostBuilder__reloadConfigOnChange", "false");
var builder = WebApplication.CreateBuilder(args);
if (string.IsNullOrEmpty(builder.Configuration["urls"]) && string.IsNullOrEmpty(builder.Configuration["ASPNETCORE_URLS"]))
    builder.WebHost.UseUrls(SocialSandboxHost.DefaultUrl);

// Request-start log lines carry the path, and DELETE /v1/billing-keys/{key} has a bearer secret in it.
builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.Warning);

// `--provider toss|kakaopay|stripe` serves a server shaped like that provider's API instead (docs/payments.md),
// with its test keys from the "Provider" section (Provider:SecretKey, Provider:SecurityKey, Provider:WebhookSecret).
if (builder.Configuration["provider"] is { Length: > 0 } provider)
{
    var providerOptions = new EvCharge.SocialSandbox.Providers.ProviderServerOptions();
    builder.Configuration.GetSection("Provider").Bind(providerOptions);
    var providerApp = builder.Build();
    EvCharge.SocialSandbox.Providers.ProviderServerHost.MapProvider(providerApp, provider, providerOptions);
    providerApp.Run();
    return;
}

var options = new SandboxOptions();
builder.Configuration.GetSection("Sandbox").Bind(options);
builder.Services.AddSocialSandbox(options);

var app = builder.Build();
app.MapSocialSandbox();
app.Run();
