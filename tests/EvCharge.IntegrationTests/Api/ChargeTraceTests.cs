using System.Diagnostics;
using System.Text.Json;
using EvCharge.ChargerBridge.Ocpp;
using EvCharge.Charging;
using EvCharge.IntegrationTests.Infrastructure;
using EvCharge.Silo.Extensions;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;
using OpenTelemetry.Trace;

namespace EvCharge.IntegrationTests.Api;

/// <summary>The silo host with the in-memory exporter added to the silo's own tracer provider.</summary>
public sealed class TracedApiHost : ApiHost
{
    public const string TestSource = "EvCharge.Tests";
    public static readonly ActivitySource Source = new(TestSource);
    public List<Activity> Spans { get; } = [];

    protected override void Configure(WebApplicationBuilder builder)
    {
        builder.Configuration["Telemetry:Tracing"] = "true"; // an exporter added in code, not an OTLP endpoint
        builder.Services.ConfigureOpenTelemetryTracerProvider(t => t.AddSource(TestSource).AddInMemoryExporter(Spans));
    }
    // The bridge's frame handler is driven by the test in this process, so its source is the one the silo registers.

    public Activity[] Snapshot() { lock (Spans) return [.. Spans]; }
}

/// <summary>
/// Issue 5, test 2: a charge traced from the charger's OCPP frames, handled by the bridge's transport-agnostic
/// frame handler (the MQTT bridge calls exactly this per message), through Orleans' grain-call spans and EvCharge's
/// session spans to the HttpClient calls to the wallet provider and the provider's own server span. The payment
/// authorization is one trace under its DataTransfer frame; settlement is one trace under the StopTransaction frame,
/// although it runs after the stop is confirmed.
/// </summary>
public class ChargeTraceTests(TracedApiHost fx) : IClassFixture<TracedApiHost>
{
    [Fact]
    public async Task Each_ocpp_message_is_one_trace_through_the_grains_to_the_wallet_provider()
    {
        await fx.CreateCpoAsync("cpo-trace");
        await fx.RegisterChargerAsync("CP-TRACE-1", "cpo-trace");
        var bridge = new OcppDispatcher(id => fx.Grains.GetGrain<IChargerGrain>(id));
        await using var phone = await PhoneClient.CreateAsync(fx.Sandbox.BaseAddress, 100_000);
        var code = await phone.ShowPaymentCodeAsync();

        var data = JsonSerializer.Serialize(JsonSerializer.Serialize(new { connectorId = 1, provider = "kakaopay", paymentCode = code }));
        var answer = JsonDocument.Parse((await bridge.DispatchAsync("CP-TRACE-1", $$"""[2,"d1","DataTransfer",{"vendorId":"kr.evcharge","messageId":"PaymentAuthorize","data":{{data}}}]"""))!);
        var reference = JsonDocument.Parse(answer.RootElement[2].GetProperty("data").GetString()!).RootElement.GetProperty("authorizationReference").GetString()!;
        var started = JsonDocument.Parse((await bridge.DispatchAsync("CP-TRACE-1", $$"""[2,"s1","StartTransaction",{"connectorId":1,"idTag":"{{reference}}","meterStart":0,"timestamp":"2026-11-25T01:00:00Z"}]"""))!);
        var tx = started.RootElement[2].GetProperty("transactionId").GetInt32();
        await bridge.DispatchAsync("CP-TRACE-1", $$"""[2,"e1","StopTransaction",{"transactionId":{{tx}},"meterStop":10000,"timestamp":"2026-11-25T01:30:00Z"}]""");
        Assert.Equal(SessionState.Settled, (await fx.WaitForSessionAsync(reference, SessionState.Settled)).State);

        Activity[] all = [];
        for (var i = 0; i < 100; i++) // exporters run when spans end, the sandbox's server span last
        {
            all = fx.Snapshot();
            if (all.Any(s => s.Kind == ActivityKind.Server && (s.GetTagItem("url.path") as string ?? "").EndsWith("/capture"))) break;
            await Task.Delay(100);
        }

        // Authorization: ocpp DataTransfer -> grain calls -> session.authorize -> POST /v1/authorizations -> sandbox.
        var dataTransfer = all.Single(s => s.DisplayName == "ocpp DataTransfer" && (string?)s.GetTagItem("ocpp.charger_id") == "CP-TRACE-1");
        Assert.Equal(OcppDispatcher.ActivitySourceName, dataTransfer.Source.Name);
        var authTrace = Trace(all, dataTransfer);
        Assert.Contains(authTrace.Values, s => TelemetryExtensions.OrleansSources.Contains(s.Source.Name) && s.DisplayName.Contains("AuthorizePayment"));
        var authorize = authTrace.Values.Single(s => s.DisplayName == "session.authorize");
        var authorizeHttp = authTrace.Values.Single(s => IsProviderCall(s) && Under(authTrace, s, authorize) && (s.GetTagItem("url.full") as string ?? "").Contains("/v1/authorizations"));
        Assert.Equal("POST", authorizeHttp.GetTagItem("http.request.method"));
        Assert.Contains(authTrace.Values, s => s.Kind == ActivityKind.Server && s.ParentSpanId == authorizeHttp.SpanId); // the provider's side

        // Settlement: ocpp StopTransaction -> session.settle -> session.capture -> POST .../capture -> sandbox, one trace.
        var stop = all.Single(s => s.DisplayName == "ocpp StopTransaction" && (string?)s.GetTagItem("ocpp.charger_id") == "CP-TRACE-1");
        var stopTrace = Trace(all, stop);
        var settle = stopTrace.Values.Single(s => s.DisplayName == "session.settle");
        var capture = stopTrace.Values.Single(s => s.DisplayName == "session.capture");
        Assert.True(Under(stopTrace, capture, settle) && Under(stopTrace, settle, stop));
        var captureHttp = stopTrace.Values.Single(s => IsProviderCall(s) && Under(stopTrace, s, capture) && (s.GetTagItem("url.full") as string ?? "").EndsWith("/capture"));
        Assert.Equal(fx.Sandbox.BaseAddress.Port, Convert.ToInt32(captureHttp.GetTagItem("server.port")));
        Assert.Contains(stopTrace.Values, s => s.Kind == ActivityKind.Server && s.ParentSpanId == captureHttp.SpanId);
        // The wallet is free once charging stops: its release goes out with the stop, not after the provider's answer.
        Assert.Contains(stopTrace.Values, s => s.DisplayName.Contains("ISocialPaymentAccountGrain/ReleaseHold") && Under(stopTrace, s, stop) && !Under(stopTrace, s, settle));
    }

    private static Dictionary<ActivitySpanId, Activity> Trace(Activity[] all, Activity member) =>
        all.Where(s => s.TraceId == member.TraceId).ToDictionary(s => s.SpanId);

    private static bool Under(Dictionary<ActivitySpanId, Activity> trace, Activity span, Activity ancestor)
    {
        for (var p = span; p is not null; p = p.ParentSpanId != default && trace.TryGetValue(p.ParentSpanId, out var parent) ? parent : null)
            if (p.SpanId == ancestor.SpanId) return true;
        return false;
    }

    private static bool IsProviderCall(Activity s) => s.Kind == ActivityKind.Client && s.GetTagItem("http.request.method") is not null;
}
