namespace EvCharge.Silo.OperatorConsole.Pages;

/// <summary>Where a signed-in CPO lands when it asks for an operator-only page or action.</summary>
public sealed class DeniedModel : ConsolePage
{
    public void OnGet() => Response.StatusCode = StatusCodes.Status403Forbidden;
}
