"""Saved runs, for before/after comparisons across builds.

`--save NAME` keeps the run's results.json *and a copy of the tinyalloc
library it measured* in RESULTS/saved/NAME/.  `--compare NAME` then loads
that saved library as one more allocator ("saved-NAME") and runs it
interleaved with the current build's tinyalloc, so "before" and "after" are
measured side by side under the same machine load rather than hours apart.
The numbers recorded when NAME was saved are shown beside them, and are the
only "before" when the saved library is gone.  `--compare` also takes the
path of a saved run's directory copied elsewhere (any NAME with a '/').
"""

import json
import os
import shutil

from bench_allocators import TINYALLOC_VARIANTS, Allocator
from bench_report import fmt_ns, is_noise, markdown_table


def _dir(results, name):
    if not name or "/" in name or name.startswith("."):
        raise ValueError(f"bad saved-run name '{name}'")
    return os.path.join(results, "saved", name)


def save(results, name, run_dir, tinyalloc_lib):
    target = _dir(results, name)
    os.makedirs(target, exist_ok=True)
    shutil.copy2(os.path.join(run_dir, "results.json"), os.path.join(target, "results.json"))
    shutil.copy2(tinyalloc_lib, os.path.join(target, "libtinyalloc.so"))
    return target


def load(results, name):
    """(allocator for the saved library or None, the saved run's summary rows).
    `name` is a saved run's name, or the path of its directory."""
    if "/" in name:
        target = os.path.abspath(name)
        name = os.path.basename(target.rstrip("/"))
    else:
        target = _dir(results, name)
    path = os.path.join(target, "results.json")
    if not os.path.exists(path):
        raise ValueError(f"no saved run '{name}' in {os.path.dirname(target)} (make one with --save {name})")
    with open(path) as f:
        rows = json.load(f)["summary"]
    lib = os.path.join(target, "libtinyalloc.so")
    allocator = Allocator(f"saved-{name}", lib, dict(TINYALLOC_VARIANTS["tinyalloc"])) if os.path.exists(lib) else None
    return allocator, rows


def _verdict(before, after):
    change = after["median"] / before["median"] - 1
    if is_noise(before, after):
        return change, "noise"
    return change, "faster" if change < 0 else "slower"


def compare_table(summary, saved_rows, before_name, after_name="tinyalloc"):
    """Before/after per metric of the current run; `before_name` is the saved
    library run now, or None to compare against the saved numbers only."""
    saved = {(r["workload"], r["metric"]): r for r in saved_rows if r["allocator"] == "tinyalloc"}
    rows = []
    for w in summary.workloads:
        for m in summary.metrics[w]:
            after = summary.time.get((w, m, after_name))
            then = saved.get((w, m))
            then_spread = then and {"median": then["median_ns"], "min": then["min_ns"], "max": then["max_ns"]}
            before = summary.time.get((w, m, before_name)) if before_name else then_spread
            if after is None or before is None:
                continue
            change, verdict = _verdict(before, after)
            rows.append([f"{w} {m}" if m != w else w,
                         f"{fmt_ns(before['median'])} [{fmt_ns(before['min'])}–{fmt_ns(before['max'])}]",
                         f"{fmt_ns(after['median'])} [{fmt_ns(after['min'])}–{fmt_ns(after['max'])}]",
                         f"{change * 100:+.1f}%", verdict,
                         fmt_ns(then["median_ns"]) if then else "–"])
    label = f"{before_name} (run now)" if before_name else "saved numbers"
    return markdown_table(["workload metric", f"before: {label}", f"after: {after_name}", "change", "verdict",
                   "before as saved"], rows)
