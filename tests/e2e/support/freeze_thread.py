#!/usr/bin/python3
"""Freezes one thread of a running process for a while, the rest of the process running on.

    freeze_thread.py PID THREAD_NAME MILLISECONDS

A SIGSTOP stops every thread, so it cannot make one part of the gateway fall behind another (the
simulator feed stops too). ptrace can: a thread seized and interrupted (PTRACE_SEIZE,
PTRACE_INTERRUPT) stops alone, and PTRACE_DETACH lets it go on where it was. The e2e tests use it
to make a fan-out worker (named worker-N) fall behind its feed. Needs CAP_SYS_PTRACE (root) or a
ptrace_scope that allows it. Prints {"tid": ..., "frozen_ms": ...} once the thread runs again;
exits 1 with the reason on stderr when the thread is not found or cannot be traced.
"""
import ctypes
import json
import os
import sys
import time

PTRACE_DETACH = 17
PTRACE_SEIZE = 0x4206
PTRACE_INTERRUPT = 0x4207
WALL = 0x40000000  # __WALL: wait for a thread that is not a child of ours


def find_thread(pid, name):
    for tid in sorted(os.listdir(f"/proc/{pid}/task"), key=int):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                if f.read().strip() == name:
                    return int(tid)
        except FileNotFoundError:
            continue
    return None


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    pid, name, ms = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    tid = find_thread(pid, name)
    if tid is None:
        sys.exit(f"freeze_thread: no thread named {name!r} in process {pid}")
    libc = ctypes.CDLL(None, use_errno=True)
    libc.ptrace.restype = ctypes.c_long
    libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]

    def ptrace(request, what):
        if libc.ptrace(request, tid, None, None) == -1:
            err = ctypes.get_errno()
            sys.exit(f"freeze_thread: ptrace {what} of thread {tid} ({name}): {os.strerror(err)}")

    ptrace(PTRACE_SEIZE, "seize")
    ptrace(PTRACE_INTERRUPT, "interrupt")
    os.waitpid(tid, WALL)  # returns once the thread is stopped
    t0 = time.monotonic()
    time.sleep(ms / 1000)
    ptrace(PTRACE_DETACH, "detach")
    print(json.dumps({"tid": tid, "frozen_ms": round((time.monotonic() - t0) * 1000)}), flush=True)


if __name__ == "__main__":
    main()
