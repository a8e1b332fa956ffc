using EvCharge.SocialSandbox;

// `dotnet run --project social-sandbox` — settings from the "Sandbox" section (appsettings, environment
// Sandbox__DataFile=..., or --Sandbox:HoldLifetime=00:10:00).
var builder = WebApplication.CreateBuilder(args);
if (string.IsNullOrEmpty(builder.Configuration["urls"]) && string.IsNullOrEmpty(builder.Configuration["ASPNETCORE_URLS"]))
    builder.WebHost.UseUrls(SocialSandboxHost.DefaultUrl);

var options = new SandboxOptions();
builder.Configuration.GetSection("Sandbox").Bind(options);
builder.Services.AddSocialSandbox(options);

var app = builder.Build();
app.MapSocialSandbox();
app.Run();
