"""System calls of one workload under one allocator: one more run of the
process under `strace -f -c` (every thread, a count per system call),
separate from the timed runs, whose times strace would distort.

The process is started as strace -> env -> benchmark, like the timed runs
(time -> env -> benchmark): the allocator's LD_PRELOAD is set by env(1) for
the benchmark only, and env's own exec adds the same few calls under every
allocator.
"""

import os
import shutil
import subprocess

STRACE = "strace"
# The calls an allocator makes to get, return and reshape memory: the counts
# the report shows beside the total.
MEMORY_CALLS = ("mmap", "munmap", "madvise", "mremap", "brk", "mprotect")


def available():
    return shutil.which(STRACE) is not None


def parse_summary(text):
    """{syscall: calls} from strace -c's table.  Rows look like
    `% time  seconds  usecs/call  calls  [errors]  syscall`; the column of
    calls is the fourth on every row but the `total` one, which is skipped
    (the total is the sum of the rows)."""
    calls = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 5 or fields[-1] == "total" or not fields[3].isdigit():
            continue
        try:
            float(fields[0])
        except ValueError:
            continue  # the header
        calls[fields[-1]] = calls.get(fields[-1], 0) + int(fields[3])
    return calls


def trace(cmd, allocator, scratch):
    """{"total": n, "mmap": n, ..., "calls": {syscall: n}} for one run of `cmd`."""
    out = os.path.join(scratch, "strace.txt")
    settings = [f"{k}={v}" for k, v in allocator.settings().items()]
    argv = [STRACE, "-f", "-c", "-o", out, "env"] + settings + cmd
    with open(os.path.join(scratch, "strace.stdout"), "w+") as so, open(os.path.join(scratch, "strace.stderr"), "w+") as se:
        status = subprocess.run(argv, env=allocator.base_environment(), stdout=so, stderr=se).returncode
        so.seek(0)
        se.seek(0)
        if status != 0:
            raise RuntimeError(f"exit status {status} under strace: {' '.join(cmd)}\n{so.read()}{se.read()}")
    with open(out) as f:
        calls = parse_summary(f.read())
    if not calls:
        raise RuntimeError(f"strace wrote no summary for: {' '.join(cmd)}")
    return {"total": sum(calls.values()), **{name: calls.get(name, 0) for name in MEMORY_CALLS}, "calls": calls}
