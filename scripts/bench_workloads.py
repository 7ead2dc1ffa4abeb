"""The workloads the comparison runner knows, and how to read their results.

A workload is one process: apps/ini_bench in one mode on one corpus (one
metric: microseconds per operation), one shape of bench/shapes/alloc_shapes
(one metric: nanoseconds per item; a fixed amount of work), or one family of
the Google Benchmark micro-benchmarks in bench/ (one metric per benchmark
case).  Every metric is reported in nanoseconds per item (an item is what the
benchmark's comment defines: a malloc/free pair, a parsed document, a
thread...).

Two sizes per workload: `full` for measurements, `smoke` for CI, which only
proves each one runs.

`fixed_work`: the process does the same work under every allocator (ini and
shape workloads), so its system-call and page-fault counts compare across
allocators; a Google Benchmark process runs as many iterations as fit in its
minimum time, so its counts do not.
"""

import json
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Workload:
    name: str
    group: str  # "ini", "shape" or "micro"
    what: str  # one line for --list and the report
    # ini_bench: mode and corpus; micro: the Google Benchmark filter.
    mode: str = ""
    corpus: str = ""
    bench_filter: str = ""
    # ini_bench only: (iterations, repeat) for full and smoke runs.
    full: tuple = (0, 0)
    smoke: tuple = (1, 1)

    @property
    def fixed_work(self):
        return self.group in ("ini", "shape")


def _ini(mode, corpus, what, full):
    return Workload(f"ini_{mode}_{corpus}", "ini", what, mode=mode, corpus=corpus, full=full)


def _shape(name, what):
    return Workload(name, "shape", what)


def _micro(name, bench_filter, what):
    return Workload(name, "micro", what, bench_filter=bench_filter)


WORKLOADS = [
    _ini("parse", "small", "parse and destroy a 3.5 KB INI file", (3000, 3)),
    _ini("parse", "large", "parse and destroy a 4 MiB INI file", (3, 3)),
    _ini("parse", "huge", "parse and destroy a 32 MiB INI file", (1, 3)),
    _ini("mixed", "small", "64 live small documents: replace one, then 16 lookups/rewrites/erases/inserts", (2000, 3)),
    _ini("mixed", "large", "4 live large documents: replace one, then ~7,000 edits", (2, 3)),
    _ini("threads", "small", "2 threads parse small documents, the main thread frees them", (3000, 3)),
    _ini("threads", "large", "2 threads parse large documents, the main thread frees them", (4, 3)),
    _shape("large_churn", "20 live 5-25 MiB blocks, malloc+memset whole; 400 random replacements (item)"),
    _shape("medium_two_threads", "2 threads x 512 live 32 KiB-1 MiB blocks, 1/4 freed by the other thread, "
                                 "4 small per step (item = a step of either thread)"),
    _shape("thread_rounds", "5 rounds (item) of 32 threads x 4,000 mallocs of 8 B-1 KiB, 1% x100, "
                            "1/4 freed by another thread"),
    _shape("larson", "8 lanes x 20 successive threads x 5,000 replacements (item) of 1,000 live 8-1,000 B blocks; "
                     "1/16 freed by another lane, the rest by the thread or its successor"),
    _micro("size_classes", "^BM_MallocFree/", "malloc/free pairs, one size at a time, 8 B - 32 KiB"),
    _micro("batch_order", "^BM_Batch/", "allocate 10,000 blocks, free them LIFO / FIFO / random"),
    _micro("realloc_growth", "^BM_ReallocGrow/", "realloc a buffer from 16 B to 64 MiB (x2 or +12% per step)"),
    _micro("calloc", "^BM_Calloc/", "calloc 64 B - 16 MiB, touched at both ends, freed"),
    _micro("aligned", "^BM_AlignedAlloc/", "aligned_alloc from 16 B to 1 MiB alignment"),
    _micro("large_blocks", "^BM_LargeBlock/", "malloc/free of one block, 64 KiB - 64 MiB"),
    _micro("cross_thread", "^BM_ProducerConsumer/", "producer allocates, consumer thread frees"),
    _micro("thread_churn", "^BM_ThreadChurn/", "a short-lived thread per item: 0 / 1 / 1,000 mallocs, half freed by main"),
    _micro("remote_collection", "^BM_RemoteFreeCollection/",
           "owner's malloc after another thread freed into its heap, with N x 256 KiB of full 16 KiB blocks"),
    _micro("live_segments", "^BM_FreeWithLiveSegments/", "free+malloc with N x 256 KiB of live 64 B blocks"),
    _micro("segment_provisioning", "^BM_Segment", "a segment's worth of 1 KiB blocks: fresh / recycled, 1-2 threads"),
    _micro("control", "^BM_Control", "no allocation at all: must stay at 1.00x"),
]

GROUPS = {"ini", "shape", "micro", "all"}


def select(spec):
    """Workloads named by a comma-separated list of names and groups."""
    by_name = {w.name: w for w in WORKLOADS}
    chosen = []
    for item in filter(None, (s.strip() for s in spec.split(","))):
        if item == "all":
            matches = WORKLOADS
        elif item in GROUPS:
            matches = [w for w in WORKLOADS if w.group == item]
        elif item in by_name:
            matches = [by_name[item]]
        else:
            raise ValueError(f"unknown workload '{item}' (see --list)")
        chosen += [w for w in matches if w not in chosen]
    if not chosen:
        raise ValueError("no workload selected")
    return chosen


def command(w, paths, smoke, tmp_json):
    """The argv that runs workload `w`."""
    if w.group == "ini":
        iterations, repeat = w.smoke if smoke else w.full
        return [paths.ini_bench, "--mode", w.mode, "--corpus", w.corpus, "--iterations", str(iterations),
                "--repeat", str(repeat), "--quiet"]
    if w.group == "shape":
        return [paths.alloc_shapes, "--shape", w.name] + (["--smoke"] if smoke else [])
    min_time = "0.001" if smoke else "0.05"
    return [paths.microbench, f"--benchmark_filter={w.bench_filter}", f"--benchmark_min_time={min_time}",
            f"--benchmark_out={tmp_json}", "--benchmark_out_format=json"]


_RESULT = re.compile(r"^RESULT mode=(\S+) corpus=(\S+) us_per_op=([0-9.]+) .*checksum=([0-9a-f]+)$", re.M)
_SHAPE = re.compile(r"^RESULT shape=(\S+) item=\S+ items=\d+ ns_per_item=([0-9.]+) .*checksum=([0-9a-f]+)$", re.M)
_UNIT_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}


def metrics(w, stdout, tmp_json):
    """[(metric, ns_per_item, checksum or None)] from one finished run."""
    if w.group == "ini":
        m = _RESULT.search(stdout)
        if not m:
            raise RuntimeError(f"no RESULT line in ini_bench output:\n{stdout}")
        return [(w.name, float(m.group(3)) * 1e3, m.group(4))]
    if w.group == "shape":
        m = _SHAPE.search(stdout)
        if not m:
            raise RuntimeError(f"no RESULT line in alloc_shapes output:\n{stdout}")
        return [(w.name, float(m.group(2)), m.group(3))]
    with open(tmp_json) as f:
        report = json.load(f)
    out = []
    for b in report["benchmarks"]:
        if b.get("run_type", "iteration") != "iteration":
            continue
        if b.get("error_occurred"):
            raise RuntimeError(f"{b['name']}: {b.get('error_message')}")
        if "items_per_second" in b:
            ns = 1e9 / b["items_per_second"]
        else:
            ns = b["real_time"] * _UNIT_NS[b["time_unit"]]
        out.append((short_name(b["name"]), ns, None))
    if not out:
        raise RuntimeError(f"filter {w.bench_filter} matched no benchmark")
    return out


def short_name(name):
    """BM_SegmentFresh/iterations:1024/real_time/threads:2 -> SegmentFresh/threads:2"""
    parts = [p for p in name.split("/") if p != "real_time" and not p.startswith("iterations:")]
    parts[0] = parts[0].removeprefix("BM_")
    return "/".join(parts)
