#!/usr/bin/env python3
"""CPU-ish profile from a dotnet-trace 'dotnet-sampled-thread-time' trace converted to speedscope JSON.

The sampled thread-time profile samples every managed thread, running or blocked. A sample whose innermost
frame is a wait (semaphore, monitor, event, sleep, socket poll) is a thread that is not using a core, so this
report drops those and ranks what is left: self time (innermost frame) and inclusive time per method.
Usage: scripts/cpu-profile.py trace.speedscope.json [top]
"""
import json, sys, collections, re

WAIT = re.compile(r"(Wait|Sleep|SpinWait|TryReadEvent|WaitForSignal|Monitor\.Enter_Slowpath|epoll|Interop\+Sys\.(Read|Poll|WaitForSocketEvents)|"
                  r"Missing Symbol|Thread\.PollGC|LowLevelLifoSemaphore|SocketAsyncEngine\.EventLoop|\?!\?)")

def main():
    path = sys.argv[1]; top = int(sys.argv[2]) if len(sys.argv) > 2 else 30
    d = json.load(open(path))
    frames = [f["name"] for f in d["shared"]["frames"]]
    self_t = collections.Counter(); incl_t = collections.Counter(); busy = 0.0; total = 0.0
    for p in d["profiles"]:
        stack = []; last = None
        for e in p["events"]:
            at = e["at"]
            if last is not None and stack:
                dt = at - last; total += dt
                # The converter ends each stack with a pseudo frame: CPU_TIME (managed code running) or
                # UNMANAGED_CODE_TIME (native code: a blocked wait, or real work such as a syscall). The method under
                # it names the work; native time under a wait method is a blocked thread and is dropped.
                leaf = frames[stack[-1]]
                owner = frames[stack[-2]] if len(stack) > 1 else leaf
                running = leaf == "CPU_TIME" or (leaf == "UNMANAGED_CODE_TIME" and not WAIT.search(owner) and "StartCallback" not in owner)
                if running:
                    busy += dt; self_t[owner] += dt
                    for f in set(stack[:-1]): incl_t[frames[f]] += dt
            last = at
            if e["type"] == "O": stack.append(e["frame"])
            elif stack: stack.pop()
    print(f"busy thread time {busy:.0f} ms of {total:.0f} ms sampled ({100*busy/max(total,1):.1f}%), blocked threads dropped")
    print(f"\nTop {top} by self time (busy samples only)")
    for name, t in self_t.most_common(top): print(f"{100*t/max(busy,1):6.2f}%  {name[:150]}")
    print(f"\nTop {top} by inclusive time (busy samples only)")
    for name, t in incl_t.most_common(top): print(f"{100*t/max(busy,1):6.2f}%  {name[:150]}")

main()
