using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using EvCharge.ApiClient;
using EvCharge.ApiClient.Models;
using Microsoft.Kiota.Abstractions.Authentication;
using Microsoft.Kiota.Http.HttpClientLibrary;

namespace EvCharge.IntegrationTests.Api;

/// <summary>
/// Issue 15: the typed API contract. The OpenAPI document the silo serves is the one committed in
/// tests/EvCharge.ApiClient/openapi/v1.json; Kiota (restored from .config/dotnet-tools.json) generates from it exactly
/// the client committed in tests/EvCharge.ApiClient/Generated; and that client, compiled into this test project,
/// calls the API and reads every answer into its typed models. <c>scripts/generate-api-client.sh</c> (this test with
/// EVCHARGE_UPDATE_API_CLIENT=1) rewrites both after an intended API change.
/// </summary>
public class ApiClientContractTests(ApiHost fx) : IClassFixture<ApiHost>
{
    private static bool Update => Environment.GetEnvironmentVariable("EVCHARGE_UPDATE_API_CLIENT") == "1";

    private static string RepoRoot
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "Orleans.EvCharge.sln"))) return dir.FullName;
            throw new DirectoryNotFoundException("Orleans.EvCharge.sln not found above " + AppContext.BaseDirectory);
        }
    }

    private static string ClientDir => Path.Combine(RepoRoot, "tests", "EvCharge.ApiClient");

    [Fact]
    public async Task The_committed_document_and_generated_client_are_what_the_silo_serves_and_Kiota_generates()
    {
        using var anonymous = fx.Client(key: null);
        var served = Normalize(await anonymous.GetStringAsync("/openapi/v1.json"));
        var committedPath = Path.Combine(ClientDir, "openapi", "v1.json");
        if (Update) await File.WriteAllTextAsync(committedPath, served);
        Assert.True(File.Exists(committedPath), $"{committedPath} is missing: run scripts/generate-api-client.sh");
        Assert.True(served == Normalize(await File.ReadAllTextAsync(committedPath)),
            "The silo's OpenAPI document differs from tests/EvCharge.ApiClient/openapi/v1.json: run scripts/generate-api-client.sh and commit the result.");

        // Every API response has a typed body (or is a 204): nothing goes out undescribed.
        using var doc = JsonDocument.Parse(served);
        foreach (var path in doc.RootElement.GetProperty("paths").EnumerateObject())
            foreach (var operation in path.Value.EnumerateObject())
                foreach (var response in operation.Value.GetProperty("responses").EnumerateObject().Where(r => r.Name.StartsWith('2') && r.Name != "204"))
                    Assert.True(response.Value.TryGetProperty("content", out var content) && content.EnumerateObject().All(c => c.Value.TryGetProperty("schema", out _)),
                        $"{operation.Name.ToUpperInvariant()} {path.Name} {response.Name} has no response schema");

        // Regenerate from the served document into a scratch directory and compare file by file with the committed client.
        var scratch = Directory.CreateTempSubdirectory("evc-kiota-").FullName;
        try
        {
            var description = Path.Combine(scratch, "v1.json");
            await File.WriteAllTextAsync(description, served);
            var output = Path.Combine(scratch, "Generated");
            await RunKiotaAsync(description, output);
            var committed = Path.Combine(ClientDir, "Generated");
            if (Update)
            {
                if (Directory.Exists(committed)) Directory.Delete(committed, true);
                CopyTree(output, committed);
                FixLockLocation(Path.Combine(committed, "kiota-lock.json"));
            }
            var fresh = Files(output);
            var kept = Files(committed);
            Assert.Equal(kept.Keys.Order(), fresh.Keys.Order());
            foreach (var (relative, file) in fresh)
            {
                var expected = await File.ReadAllTextAsync(kept[relative]);
                var actual = await File.ReadAllTextAsync(file);
                if (relative == "kiota-lock.json") (expected, actual) = (LockWithoutLocation(expected), LockWithoutLocation(actual));
                Assert.True(expected == actual, $"Generated/{relative} differs from what Kiota generates now: run scripts/generate-api-client.sh.");
            }
        }
        finally
        {
            Directory.Delete(scratch, true);
        }
    }

    [Fact]
    public async Task The_generated_client_runs_the_operators_workflow_with_typed_answers()
    {
        using var http = fx.Client();
        var client = new EvChargeApiClient(new HttpClientRequestAdapter(new AnonymousAuthenticationProvider(), httpClient: http) { BaseUrl = fx.BaseAddress.ToString().TrimEnd('/') });

        var cpo = await client.Api.V1.Cpos["cpo-kiota"].PutAsync(new CpoContractBody
        {
            Name = "Kiota Charging", PayeeAccount = "cpo-kiota-settlement", Commission = new CommissionBody { BasisPoints = 1_000 },
            Tariffs = [new TariffBody { TariffId = "std", PricePerKwh = 300 }],
        });
        Assert.Equal("cpo-kiota-settlement", cpo!.Contract!.PayeeAccount);
        Assert.Equal(300, cpo.Contract.Tariffs!.Single().PricePerKwh);
        Assert.Contains(await client.Api.V1.Cpos.GetAsync() ?? [], c => c.CpoId == "cpo-kiota");

        var charger = await client.Api.V1.Chargers["CP-KIOTA-1"].PutAsync(new ChargerBody
        {
            CpoId = "cpo-kiota", ConnectorCount = 2, TariffId = "std", HoldAmount = 30_000, Password = "charger-secret-CP-KIOTA-1",
        });
        Assert.Equal(2, charger!.Connectors!.Count);
        Assert.Equal(ConnectorStatus.Available, charger.Connectors[0].Status);

        var sessionId = await fx.ChargeAsync("CP-KIOTA-1", 10_000);
        var page = await client.Api.V1.Sessions.GetAsync(r => { r.QueryParameters.CpoId = "cpo-kiota"; r.QueryParameters.Limit = "10"; });
        var row = Assert.Single(page!.Items!);
        Assert.Equal(sessionId, row.SessionId);
        Assert.Equal(SessionState.Settled, row.State);

        var detail = await client.Api.V1.Sessions[sessionId].GetAsync();
        Assert.Equal(3_000, detail!.Session!.Fee);
        Assert.Equal(3_000, detail.Hold!.Captured);
        Assert.Equal(2_700, detail.Session.Splits!.Single(s => s.Role == PayeeRole.Cpo).Amount);
        Assert.Equal(273, detail.Session.Receipt!.Vat);
        Assert.Contains(detail.Ledger!, e => e.Kind == JournalKind.Capture);

        var refund = await client.Api.V1.Sessions[sessionId].Refunds.PostAsync(new RefundBody { Amount = 500, Reason = "generated client" },
            r => r.Headers.Add("Idempotency-Key", "kiota-refund-1"));
        Assert.Equal("succeeded", refund!.Status);
        Assert.Equal(450, refund.Reversals!.Single(r => r.Role == PayeeRole.Cpo).Amount); // 90 % of the 500 refunded

        var statement = await client.Api.V1.Payees["cpo-kiota-settlement"].Statements[DateTimeOffset.UtcNow.ToOffset(TimeSpan.FromHours(9)).ToString("yyyy-MM-dd")].GetAsync();
        Assert.Equal(2_700, statement!.Remitted);
        Assert.Equal(450, statement.Reversed);
        Assert.True((await client.Api.V1.Ledger.Invariants.GetAsync())!.Ok);

        // Problems arrive as the document's typed errors.
        var missing = await Assert.ThrowsAsync<ProblemDetails>(() => client.Api.V1.Sessions["no-such-session"].GetAsync());
        Assert.Equal(404, missing.ResponseStatusCode);
        var invalid = await Assert.ThrowsAsync<HttpValidationProblemDetails>(() => client.Api.V1.Chargers["CP-KIOTA-2"].PutAsync(new ChargerBody { CpoId = "cpo-kiota" }));
        Assert.Equal(400, invalid.ResponseStatusCode);
        Assert.True(invalid.Errors!.AdditionalData.ContainsKey("connectorCount"));

        using var cpoHttp = fx.Client(ApiHost.CpoAKey);
        var cpoClient = new EvChargeApiClient(new HttpClientRequestAdapter(new AnonymousAuthenticationProvider(), httpClient: cpoHttp) { BaseUrl = fx.BaseAddress.ToString().TrimEnd('/') });
        var forbidden = await Assert.ThrowsAsync<ProblemDetails>(() => cpoClient.Api.V1.Reconciliation.GetAsync());
        Assert.Equal(403, forbidden.ResponseStatusCode);
    }

    private static async Task RunKiotaAsync(string description, string output)
    {
        var psi = new ProcessStartInfo("dotnet") { WorkingDirectory = RepoRoot, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "tool", "run", "kiota", "generate", "-l", "CSharp", "-d", description, "-o", output, "-c", "EvChargeApiClient",
                     "-n", "EvCharge.ApiClient", "--exclude-backward-compatible", "--clean-output", "--log-level", "Warning" })
            psi.ArgumentList.Add(a);
        psi.Environment["KIOTA_OFFLINE_ENABLED"] = "true"; // no update check: generation needs nothing from the network
        psi.Environment["KIOTA_TUTORIAL_ENABLED"] = "false";
        psi.Environment["KIOTA_CLI_TELEMETRY_OPTOUT"] = "true";
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await process.WaitForExitAsync(timeout.Token);
        Assert.True(process.ExitCode == 0,
            $"kiota failed ({process.ExitCode}); is the tool restored (dotnet tool restore, .config/dotnet-tools.json)?\n{await stdout}\n{await stderr}");
    }

    /// <summary>The same JSON, indented, so the committed file reads well in a diff and formatting never counts.</summary>
    private static string Normalize(string json) =>
        JsonNode.Parse(json)!.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";

    private static Dictionary<string, string> Files(string root) =>
        Directory.Exists(root)
            ? Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories).ToDictionary(f => Path.GetRelativePath(root, f).Replace('\\', '/'), f => f)
            : [];

    private static string LockWithoutLocation(string json)
    {
        var node = JsonNode.Parse(json)!.AsObject();
        node.Remove("descriptionLocation");
        return node.ToJsonString();
    }

    private static void FixLockLocation(string lockFile)
    {
        var node = JsonNode.Parse(File.ReadAllText(lockFile))!.AsObject();
        node["descriptionLocation"] = "../openapi/v1.json";
        File.WriteAllText(lockFile, node.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }

    private static void CopyTree(string from, string to)
    {
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target, overwrite: true);
        }
    }
}
