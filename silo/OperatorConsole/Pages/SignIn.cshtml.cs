using EvCharge.Silo.Security;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Mvc;

namespace EvCharge.Silo.OperatorConsole.Pages;

/// <summary>Trades an API key for the console's cookie session (see <see cref="ConsoleAuth"/>), and signs out.</summary>
public sealed class SignInModel(ApiKeyStore keys, ILogger<SignInModel> logger) : ConsolePage
{
    public string? Error { get; private set; }
    [BindProperty(SupportsGet = true)] public string? ReturnUrl { get; set; }
    public bool CookieWillStick => ConsoleAuth.CookieWillStick(Request);

    public void OnGet() { }

    public async Task<IActionResult> OnPostAsync(string? apiKey)
    {
        var entry = string.IsNullOrEmpty(apiKey) ? null : keys.Find(apiKey);
        if (entry is null)
        {
            // The same answer for every wrong key; the log says a sign-in failed, never what was typed.
            logger.LogWarning("Console sign-in refused from {Remote}", HttpContext.Connection.RemoteIpAddress);
            Error = "That key is not valid.";
            Response.StatusCode = StatusCodes.Status401Unauthorized;
            return Page();
        }
        await HttpContext.SignInAsync(ConsoleAuth.Scheme, ConsoleAuth.Principal(entry, ApiKeyStore.KeyId(apiKey!)),
            new AuthenticationProperties { IsPersistent = false, AllowRefresh = true });
        logger.LogInformation("Console sign-in: {Name} ({Role}{Cpo})", entry.Name, entry.Role, entry.CpoId is null ? "" : " " + entry.CpoId);
        return LocalRedirect(Url.IsLocalUrl(ReturnUrl) && ReturnUrl!.StartsWith(ConsoleExtensions.BasePath, StringComparison.Ordinal) ? ReturnUrl : ConsoleExtensions.BasePath);
    }

    public async Task<IActionResult> OnPostSignOutAsync()
    {
        await HttpContext.SignOutAsync(ConsoleAuth.Scheme);
        return Redirect(ConsoleExtensions.BasePath + "/signin");
    }
}
