#!/usr/bin/env python3
"""Which allocator catches which heap misuse: runs every case of
tests/misuse/misuse_cases.cpp under each allocator (LD_PRELOAD) and prints a
markdown table (README "Misuse").

A cell says how the run ended:
  at the misuse   killed by SIGABRT before the program went on (the call that
                  misused the heap, or the allocator's next call on that path)
  later           killed by SIGABRT after it, when the allocator next used
                  what the misuse corrupted
  crash           killed by another signal (SIGSEGV, ...): not a report
  -               exited normally: missed

Usage: scripts/misuse_matrix.py [--build DIR] [name=/path/lib.so ...]
Default allocators: glibc (no LD_PRELOAD), tinyalloc (DIR's libtinyalloc.so)
and mimalloc when installed.  Add other builds as name=path, e.g.
  unhardened=build-off/libs/override/libtinyalloc.so secure=build-secure/libs/override/libtinyalloc.so
"""
import argparse
import os
import signal
import subprocess
import sys

MIMALLOC = "/usr/lib/x86_64-linux-gnu/libmimalloc.so.2"


def outcome(binary, case, lib):
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    if lib:
        env["LD_PRELOAD"] = lib
    # tinyalloc: a freed large block's pages stay resident for the run, so a
    # loaded machine's timing cannot decay them before the check (see README).
    env["TINYALLOC_PURGE_DELAY_MS"] = "600000"
    try:
        r = subprocess.run([binary, case], env=env, capture_output=True, timeout=120)
    except subprocess.TimeoutExpired:
        return "hang"
    if r.returncode == 0:
        return "-"
    if r.returncode == -signal.SIGABRT:
        return "later" if b"MISUSED" in r.stdout else "at the misuse"
    if r.returncode < 0:
        return f"crash ({signal.Signals(-r.returncode).name})"
    return f"exit {r.returncode}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build")
    ap.add_argument("allocators", nargs="*", metavar="name=/path/lib.so")
    a = ap.parse_args()
    binary = os.path.join(a.build, "tests/misuse/misuse_cases")
    if not os.access(binary, os.X_OK):
        sys.exit(f"{binary} not found: cmake --build {a.build} --target misuse_cases tinyalloc_shared")
    allocators = [("glibc", None), ("tinyalloc", os.path.join(a.build, "libs/override/libtinyalloc.so"))]
    allocators += [tuple(x.split("=", 1)) for x in a.allocators]
    if os.path.exists(MIMALLOC):
        allocators.append(("mimalloc", MIMALLOC))
    cases = [line.split("\t") for line in subprocess.run([binary, "--list"], capture_output=True, text=True,
                                                          check=True).stdout.splitlines()]
    print("| misuse | " + " | ".join(name for name, _ in allocators) + " |")
    print("|---|" + "---|" * len(allocators))
    caught = {name: 0 for name, _ in allocators}
    for case, what in cases:
        cells = []
        for name, lib in allocators:
            o = outcome(binary, case, lib)
            caught[name] += o in ("at the misuse", "later")
            cells.append(o)
        print(f"| {what} | " + " | ".join(cells) + " |", flush=True)
    print(f"| **caught, of {len(cases)}** | " + " | ".join(f"**{caught[name]}**" for name, _ in allocators) + " |")


if __name__ == "__main__":
    main()
