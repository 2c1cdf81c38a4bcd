#!/usr/bin/python3
"""Runs a command with io_uring refused, as a container runtime's default seccomp profile does:
io_uring_setup fails with EPERM. Usage: no_io_uring.py PROGRAM [ARGS...] (it execs PROGRAM)."""
import ctypes
import os
import struct
import sys

PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_RET_ERRNO = 0x00050000
EPERM = 1
NR_IO_URING_SETUP = 425  # the same number on every architecture (the unified table, Linux 5.1)


def stmt(code, k):
    return struct.pack("HBBI", code, 0, 0, k)


def jump(code, k, jt, jf):
    return struct.pack("HBBI", code, jt, jf, k)


BPF_LD_W_ABS, BPF_JEQ_K, BPF_RET_K = 0x20, 0x15, 0x06
program = b"".join([
    stmt(BPF_LD_W_ABS, 0),  # seccomp_data.nr
    jump(BPF_JEQ_K, NR_IO_URING_SETUP, 0, 1),
    stmt(BPF_RET_K, SECCOMP_RET_ERRNO | EPERM),
    stmt(BPF_RET_K, SECCOMP_RET_ALLOW),
])


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]


libc = ctypes.CDLL(None, use_errno=True)
prog = SockFprog(len(program) // 8, program)
if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 or \
        libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
    sys.exit("no_io_uring.py: seccomp: " + os.strerror(ctypes.get_errno()))
os.execv(sys.argv[1], sys.argv[1:])
