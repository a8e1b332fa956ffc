#!/usr/bin/env python3
"""Splits a sampled thread-time profile (speedscope JSON from dotnet-trace) into components: for every busy sample
(see cpu-profile.py) the component is the innermost frame whose assembly is one we name below, so time spent in
System.* on behalf of Npgsql counts as Npgsql. Usage: scripts/cpu-by-component.py trace.speedscope.json"""
import json, sys, collections, re
sys.path.insert(0, __file__.rsplit('/', 1)[0])
WAIT = re.compile(r"(Wait|Sleep|SpinWait|TryReadEvent|WaitForSignal|Monitor\.Enter_Slowpath|epoll|Interop\+Sys\.(Read|Poll|WaitForSocketEvents)|"
                  r"Missing Symbol|Thread\.PollGC|LowLevelLifoSemaphore|SocketAsyncEngine\.EventLoop|\?!\?)")
COMPONENTS = [
    ("Npgsql (PostgreSQL driver)", r"^Npgsql!"),
    ("Orleans ADO.NET storage/reminders", r"^Orleans\.(Persistence|Reminders|Clustering)\.AdoNet!"),
    ("MQTTnet broker", r"^MQTTnet\.Server!"),
    ("MQTTnet client/protocol", r"^MQTTnet!"),
    ("EvCharge sandbox (wallet provider)", r"^EvCharge\.SocialSandbox!|^System.Private.CoreLib!.*Sandbox"),
    ("EvCharge bridge (OCPP)", r"^EvCharge\.ChargerBridge!"),
    ("EvCharge grains/domain", r"^EvCharge\.Grains!"),
    ("EvCharge silo (API, health)", r"^EvCharge\.Silo!"),
    ("Orleans serialization", r"^Orleans\.Serialization!"),
    ("Orleans runtime/messaging", r"^Orleans\.(Runtime|Core)!"),
    ("ASP.NET Core / Kestrel", r"^Microsoft\.AspNetCore"),
    ("HttpClient + resilience", r"^(System\.Net\.Http|Microsoft\.Extensions\.Http|Polly)"),
    ("OpenTelemetry / metrics", r"^(OpenTelemetry|System\.Diagnostics\.DiagnosticSource)"),
    ("Logging", r"^Microsoft\.Extensions\.Logging"),
    ("System.Text.Json", r"^System\.Text\.Json!"),
    ("SQLite", r"^(Microsoft\.Data\.Sqlite|SQLitePCLRaw)"),
]
def main():
    d = json.load(open(sys.argv[1])); frames = [f["name"] for f in d["shared"]["frames"]]
    comp_of = []
    for name in frames:
        comp_of.append(next((c for c, rx in COMPONENTS if re.search(rx, name)), None))
    t = collections.Counter(); busy = 0.0
    for p in d["profiles"]:
        stack = []; last = None
        for e in p["events"]:
            at = e["at"]
            if last is not None and len(stack) > 1:
                leaf = frames[stack[-1]]; owner = frames[stack[-2]]
                if leaf == "CPU_TIME" or (leaf == "UNMANAGED_CODE_TIME" and not WAIT.search(owner) and "StartCallback" not in owner):
                    dt = at - last; busy += dt
                    c = next((comp_of[f] for f in reversed(stack) if comp_of[f]), None)
                    if c is None:
                        c = "GC / runtime" if any("PollGC" in frames[f] or "GC" in frames[f].split("!")[-1][:12] for f in stack[-3:]) else "other (thread pool, sockets, BCL)"
                    t[c] += dt
            last = at
            if e["type"] == "O": stack.append(e["frame"])
            elif stack: stack.pop()
    print(f"busy thread time {busy:.0f} ms")
    for c, v in t.most_common(): print(f"{100*v/busy:6.1f}%  {c}")
main()
