"""The allocators the comparison runner can load, and the check that each
one really is the malloc a benchmark process gets.

  glibc              the C library's malloc (no LD_PRELOAD)
  tinyalloc          LD_PRELOAD=BUILD/libs/override/libtinyalloc.so, TINYALLOC_LARGE=cached
  tinyalloc-direct   the same library with TINYALLOC_LARGE=direct
  tinyalloc-eager    the same library with TINYALLOC_EAGER_COMMIT=1 (not run unless asked)
  mimalloc, jemalloc, tcmalloc   Debian's packages, when installed
  NAME=/path/lib.so  anything else, from the command line

Every process starts from the caller's environment with LD_PRELOAD and all
TINYALLOC_* variables removed, so nothing inherited leaks into a baseline.
"""

import os
import platform
import subprocess
from dataclasses import dataclass, field

_LIBDIR = f"/usr/lib/{platform.machine()}-linux-gnu"
PEERS = {
    "mimalloc": f"{_LIBDIR}/libmimalloc.so.2",
    "jemalloc": f"{_LIBDIR}/libjemalloc.so.2",
    "tcmalloc": f"{_LIBDIR}/libtcmalloc_minimal.so.4",
}
# The packages that provide them (installed by scripts/bench.sh when missing).
PEER_PACKAGES = ["libmimalloc-dev", "libjemalloc-dev", "libgoogle-perftools-dev"]

TINYALLOC_VARIANTS = {
    "tinyalloc": {"TINYALLOC_LARGE": "cached"},
    "tinyalloc-direct": {"TINYALLOC_LARGE": "direct"},
    "tinyalloc-eager": {"TINYALLOC_LARGE": "cached", "TINYALLOC_EAGER_COMMIT": "1"},
}
DEFAULT_OFF = {"tinyalloc-eager"}


@dataclass
class Allocator:
    name: str
    library: str  # "" for the C library's own malloc
    env: dict = field(default_factory=dict)

    def base_environment(self):
        """The caller's environment without LD_PRELOAD and TINYALLOC_*."""
        return {k: v for k, v in os.environ.items() if k != "LD_PRELOAD" and not k.startswith("TINYALLOC_")}

    def settings(self):
        """What selects this allocator, on top of the base environment."""
        return {"LD_PRELOAD": self.library, **self.env} if self.library else dict(self.env)

    def environment(self):
        return {**self.base_environment(), **self.settings()}

    def describe(self):
        settings = " ".join(f"{k}={v}" for k, v in self.env.items())
        return f"{self.library or '(no LD_PRELOAD)'} {settings}".strip()


def known(tinyalloc_lib, extra):
    """Every allocator available here, by name, in display order."""
    found = {"glibc": Allocator("glibc", "")}
    for name, env in TINYALLOC_VARIANTS.items():
        found[name] = Allocator(name, tinyalloc_lib, dict(env))
    for name, lib in PEERS.items():
        if os.path.exists(lib):
            found[name] = Allocator(name, lib)
    for spec in extra:
        name, _, lib = spec.partition("=")
        if not name or not lib or not name.replace("-", "").replace("_", "").replace(".", "").isalnum():
            raise ValueError(f"bad allocator '{spec}': expected name=/path/lib.so")
        if name in found:
            raise ValueError(f"allocator name '{name}' is already taken")
        if not os.path.isfile(lib):
            raise ValueError(f"{name}: no such file: {lib}")
        found[name] = Allocator(name, os.path.abspath(lib))
    return found


def choose(found, spec, extra):
    """The allocators named in `spec` (comma-separated), or the default set:
    everything found except the opt-in variants, plus every extra one."""
    if not spec:
        return [a for n, a in found.items() if n not in DEFAULT_OFF]
    chosen = []
    for name in filter(None, (s.strip() for s in spec.split(","))):
        if name not in found:
            raise ValueError(f"unknown or uninstalled allocator '{name}' (known here: {', '.join(found)})")
        if found[name] not in chosen:
            chosen.append(found[name])
    for spec_item in extra:  # given on the command line: always run
        a = found[spec_item.partition("=")[0]]
        if a not in chosen:
            chosen.append(a)
    return chosen


def _malloc_provider(ini_bench, env):
    probe = subprocess.run([ini_bench, "--corpus", "small", "--iterations", "1", "--repeat", "1"], env=env,
                           capture_output=True, text=True, check=True)
    for line in probe.stdout.splitlines():
        if line.startswith("malloc from "):
            return os.path.realpath(line[len("malloc from "):])
    return "unknown"


def preflight(allocators, ini_bench):
    """Each allocator passes ini_bench's self-test, and its LD_PRELOAD takes
    effect (ld.so only prints a warning and carries on with the system malloc
    when a preload cannot be loaded).  Returns the system malloc's path."""
    system = _malloc_provider(ini_bench, Allocator("glibc", "").environment())
    for a in allocators:
        env = a.environment()
        test = subprocess.run([ini_bench, "--selftest"], env=env, capture_output=True, text=True)
        if test.returncode != 0 or "cannot be preloaded" in test.stderr:
            raise RuntimeError(f"{a.name}: ini_bench --selftest failed:\n{test.stdout}{test.stderr}")
        if not a.library:
            continue
        provider = _malloc_provider(ini_bench, env)
        if provider == system:
            raise RuntimeError(f"{a.name}: LD_PRELOAD={a.library} had no effect: malloc still comes from {provider}")
        if provider != os.path.realpath(a.library):
            print(f"note: {a.name}: malloc resolves to {provider}, not {a.library}")
    return system
