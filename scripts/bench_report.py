"""Medians, spreads and ratios of the runner's raw records, as text tables
(Markdown, so they paste into PERF_FINDINGS.md), CSV and JSON.

A record is one metric of one process: workload, metric, allocator, rep, ns
(per item), peak_rss_kib and minflt (of the whole process), checksum.
System calls come separately, one count per (workload, allocator) from an
untimed run under strace (bench_syscalls.py).

"Noise": a difference between two medians no larger than the larger of the
two min-max ranges is within the run-to-run spread and is flagged, not
believed.
"""

import csv
import json
import math
import statistics
from collections import defaultdict

from bench_syscalls import MEMORY_CALLS


def spread(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "runs": len(values)}


def is_noise(a, b):
    """True when medians a and b differ by less than the larger range."""
    return abs(a["median"] - b["median"]) <= max(a["max"] - a["min"], b["max"] - b["min"])


class Summary:
    """Statistics per (workload, metric, allocator) and per (workload, allocator)."""

    def __init__(self, records, workloads, allocators, reference, syscalls=None):
        self.workloads = workloads  # in run order
        self.allocators = allocators  # names, in display order
        self.reference = reference
        self.syscalls = syscalls or {}  # (workload, allocator) -> {"total", "mmap", ..., "calls"}
        times, rss, faults = defaultdict(list), defaultdict(dict), defaultdict(dict)
        self.metrics = defaultdict(list)  # workload -> metric names in first-seen order
        for r in records:
            times[(r["workload"], r["metric"], r["allocator"])].append(r["ns"])
            # One process per (workload, allocator, rep): its RSS is counted once.
            rss[(r["workload"], r["allocator"])][r["rep"]] = r["peak_rss_kib"]
            faults[(r["workload"], r["allocator"])][r["rep"]] = r["minflt"]
            if r["metric"] not in self.metrics[r["workload"]]:
                self.metrics[r["workload"]].append(r["metric"])
        self.time = {k: spread(v) for k, v in times.items()}
        self.rss = {k: spread(list(v.values())) for k, v in rss.items()}
        self.minflt = {k: statistics.median(v.values()) for k, v in faults.items()}

    def ratio(self, workload, metric, allocator):
        ref = self.time.get((workload, metric, self.reference))
        own = self.time.get((workload, metric, allocator))
        return own["median"] / ref["median"] if ref and own and ref["median"] > 0 else float("nan")

    def workload_ratio(self, workload, allocator):
        """Geometric mean of the workload's metric ratios: one number per cell
        of the recap, where every case of a family weighs the same."""
        ratios = [self.ratio(workload, m, allocator) for m in self.metrics[workload]]
        ratios = [r for r in ratios if r > 0 and math.isfinite(r)]
        return math.exp(sum(map(math.log, ratios)) / len(ratios)) if ratios else float("nan")

    def rss_ratio(self, workload, allocator):
        ref, own = self.rss.get((workload, self.reference)), self.rss.get((workload, allocator))
        return own["median"] / ref["median"] if ref and own else float("nan")

    def noise(self, workload, metric, allocator):
        ref = self.time.get((workload, metric, self.reference))
        own = self.time.get((workload, metric, allocator))
        return bool(ref and own and allocator != self.reference and is_noise(ref, own))

    # ---- rows --------------------------------------------------------------

    def rows(self):
        for w in self.workloads:
            for m in self.metrics[w]:
                for a in self.allocators:
                    t = self.time.get((w, m, a))
                    if t is None:
                        continue
                    mem = self.rss[(w, a)]
                    yield {
                        "workload": w, "metric": m, "allocator": a, "runs": t["runs"],
                        "median_ns": round(t["median"], 3), "min_ns": round(t["min"], 3),
                        "max_ns": round(t["max"], 3), "ratio": round(self.ratio(w, m, a), 4),
                        "noise": self.noise(w, m, a),
                        "peak_rss_kib": mem["median"], "peak_rss_kib_min": mem["min"],
                        "peak_rss_kib_max": mem["max"], "rss_ratio": round(self.rss_ratio(w, a), 4),
                        "minflt": self.minflt[(w, a)],
                        **self.syscall_columns(w, a),
                    }

    def syscall_columns(self, w, a):
        counts = self.syscalls.get((w, a), {})
        return {"syscalls": counts.get("total"), **{n: counts.get(n) for n in MEMORY_CALLS}}

    def recap(self):
        return [{"workload": w, "allocators": {a: {"time_ratio": round(self.workload_ratio(w, a), 4),
                                                   "peak_rss_kib": self.rss[(w, a)]["median"],
                                                   "rss_ratio": round(self.rss_ratio(w, a), 4),
                                                   "minflt": self.minflt[(w, a)],
                                                   **self.syscall_columns(w, a)}
                                               for a in self.allocators if (w, a) in self.rss}}
                for w in self.workloads]


# ---- formatting --------------------------------------------------------------

def fmt_ns(ns):
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"


def fmt_count(n):
    if n is None:
        return "–"
    for unit, scale in (("M", 1e6), ("k", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g}{unit}"
    return f"{n:g}"


def fmt_mib(kib):
    return f"{kib / 1024:.1f}"


def fmt_ratio(r):
    return "n/a" if not math.isfinite(r) else f"{r:.2f}×"


def markdown_table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def recap_table(s):
    """Every workload x every allocator: time ratio (geometric mean over the
    workload's metrics) and median peak RSS in MiB."""
    rows = [[w] + [f"{fmt_ratio(s.workload_ratio(w, a))} · {fmt_mib(s.rss[(w, a)]['median'])}"
                   if (w, a) in s.rss else "–" for a in s.allocators] for w in s.workloads]
    return markdown_table(["workload"] + s.allocators, rows)


def slowest(s, workload, allocator):
    """The worst of the workload's metrics: its slowest run over its median
    (a stall shows here even when the median looks fine)."""
    worst = [t["max"] / t["median"] for m in s.metrics[workload]
             if (t := s.time.get((workload, m, allocator))) and t["median"] > 0]
    return f"{max(worst):.2f}×" if worst else "–"


def detail_table(s, workload):
    """One workload: every metric's median per allocator, its ratio to the
    reference, '~' when that difference is within the run-to-run spread."""
    rows = []
    for m in s.metrics[workload]:
        row = [m]
        for a in s.allocators:
            t = s.time.get((workload, m, a))
            if t is None:
                row.append("–")
                continue
            flag = "~" if s.noise(workload, m, a) else ""
            row.append(f"{fmt_ns(t['median'])} ({fmt_ratio(s.ratio(workload, m, a))}{flag})")
        rows.append(row)
    rows.append(["slowest run ÷ median"] + [slowest(s, workload, a) for a in s.allocators])
    rows.append(["peak RSS MiB"] + [fmt_mib(s.rss[(workload, a)]["median"]) if (workload, a) in s.rss else "–"
                                    for a in s.allocators])
    rows.append(["minor faults"] + [fmt_count(s.minflt.get((workload, a))) for a in s.allocators])
    if any((workload, a) in s.syscalls for a in s.allocators):
        counts = [s.syscalls.get((workload, a), {}) for a in s.allocators]
        rows.append(["system calls"] + [fmt_count(c.get("total")) for c in counts])
        for group in (("mmap", "munmap", "madvise", "mremap"), ("brk", "mprotect")):
            rows.append([" · ".join(group)] + [" · ".join(fmt_count(c.get(n)) for n in group) if c else "–"
                                               for c in counts])
    return markdown_table(["metric"] + s.allocators, rows)


def kernel_table(s):
    """Every workload x every allocator: system calls (strace'd run) · minor
    page faults (median of the timed runs)."""
    rows = [[w] + [f"{fmt_count(s.syscalls.get((w, a), {}).get('total'))} · {fmt_count(s.minflt[(w, a)])}"
                   if (w, a) in s.minflt else "–" for a in s.allocators] for w in s.workloads]
    return markdown_table(["workload"] + s.allocators, rows)


def text_report(s, describe):
    out = [f"## Recap: time relative to {s.reference} (geometric mean over each workload's metrics) · "
           f"median peak RSS in MiB", "", recap_table(s), "",
           "## Kernel work: system calls (one more run under strace -f -c, untimed) · minor page faults "
           "(median of the timed runs)", "", kernel_table(s), "",
           "'–' = not traced (by default only the workloads with a fixed amount of work: ini_*, shapes).  "
           "A Google Benchmark process runs as many iterations as fit its minimum time, so its counts "
           "compare only loosely.", ""]
    for w in s.workloads:
        out += [f"### {w}: {describe(w)}", "", detail_table(s, w), ""]
    out.append(f"Times are medians per item of {max(t['runs'] for t in s.time.values())} interleaved runs; "
               f"(ratio) = median / {s.reference}'s median; '~' = within the run-to-run min-max spread.")
    return "\n".join(out)


def write_csv(s, path):
    rows = list(s.rows())
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        writer.writeheader()
        writer.writerows(rows)


def write_json(s, path, meta, records):
    with open(path, "w") as f:
        syscalls = [{"workload": w, "allocator": a, **counts} for (w, a), counts in s.syscalls.items()]
        json.dump({"meta": meta, "recap": s.recap(), "summary": list(s.rows()), "records": records,
                   "syscalls": syscalls}, f, indent=1)
