"""Medians, spreads and ratios of the runner's raw records, as text tables
(Markdown, so they paste into PERF_FINDINGS.md), CSV and JSON.

A record is one metric of one process: workload, metric, allocator, rep, ns
(per item), peak_rss_kib and minflt (of the whole process), checksum.

"Noise": a difference between two medians no larger than the larger of the
two min-max ranges is within the run-to-run spread and is flagged, not
believed.
"""

import csv
import json
import math
import statistics
from collections import defaultdict


def spread(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "runs": len(values)}


def is_noise(a, b):
    """True when medians a and b differ by less than the larger range."""
    return abs(a["median"] - b["median"]) <= max(a["max"] - a["min"], b["max"] - b["min"])


class Summary:
    """Statistics per (workload, metric, allocator) and per (workload, allocator)."""

    def __init__(self, records, workloads, allocators, reference):
        self.workloads = workloads  # in run order
        self.allocators = allocators  # names, in display order
        self.reference = reference
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
                    }

    def recap(self):
        return [{"workload": w, "allocators": {a: {"time_ratio": round(self.workload_ratio(w, a), 4),
                                                   "peak_rss_kib": self.rss[(w, a)]["median"],
                                                   "rss_ratio": round(self.rss_ratio(w, a), 4)}
                                               for a in self.allocators if (w, a) in self.rss}}
                for w in self.workloads]


# ---- formatting --------------------------------------------------------------

def fmt_ns(ns):
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"


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
    rows.append(["peak RSS MiB"] + [fmt_mib(s.rss[(workload, a)]["median"]) if (workload, a) in s.rss else "–"
                                    for a in s.allocators])
    return markdown_table(["metric"] + s.allocators, rows)


def text_report(s, describe):
    out = [f"## Recap: time relative to {s.reference} (geometric mean over each workload's metrics) · "
           f"median peak RSS in MiB", "", recap_table(s), ""]
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
        json.dump({"meta": meta, "recap": s.recap(), "summary": list(s.rows()), "records": records}, f, indent=1)
