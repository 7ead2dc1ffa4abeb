"""An SVG bar chart of a run's recap, readable in any browser: one group of
horizontal bars per workload, one bar per allocator, on a log scale centred
on the reference (1.0).  Left panel: time; right panel: peak RSS.  A bar to
the left of the centre line is faster (or smaller) than the reference."""

import math
from html import escape

COLORS = ["#7f7f7f", "#d62728", "#ff9896", "#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#bcbd22",
          "#17becf"]
LABEL_W, PANEL_W, GAP, BAR_H, GROUP_GAP, TOP = 190, 360, 40, 9, 10, 80


def _extent(values):
    """Half-width of the axis in powers of two: covers every finite ratio,
    at least 2x, at most 64x (larger bars are clipped, their label is not)."""
    logs = [abs(math.log2(v)) for v in values if v > 0 and math.isfinite(v)]
    return min(6, max(1, math.ceil(max(logs, default=1))))


def _panel(x0, title, ratios, allocators, workloads, extent):
    scale = PANEL_W / (2 * extent)
    center = x0 + PANEL_W / 2
    height = len(workloads) * (len(allocators) * BAR_H + GROUP_GAP)
    out = [f'<text x="{center}" y="{TOP - 22}" text-anchor="middle" font-weight="bold">{escape(title)}</text>']
    for k in range(-extent, extent + 1):
        x = center + k * scale
        label = f"{2 ** k:g}×" if k >= 0 else f"1/{2 ** -k:g}×"
        out.append(f'<line x1="{x}" y1="{TOP - 8}" x2="{x}" y2="{TOP + height}" stroke="{"#000" if k == 0 else "#ddd"}"/>')
        out.append(f'<text x="{x}" y="{TOP - 10}" text-anchor="middle" font-size="9">{label}</text>')
    y = TOP
    for w in workloads:
        for i, a in enumerate(allocators):
            r = ratios.get((w, a))
            if r is not None and r > 0 and math.isfinite(r):
                v = max(-extent, min(extent, math.log2(r))) * scale
                left, width = (center + v, -v) if v < 0 else (center, v)
                out.append(f'<rect x="{left:.1f}" y="{y}" width="{max(width, 1):.1f}" height="{BAR_H - 1}" '
                           f'fill="{COLORS[i % len(COLORS)]}"><title>{escape(w)} · {escape(a)}: {r:.3f}×</title></rect>')
                tx, anchor = (center + v - 3, "end") if v < 0 else (center + v + 3, "start")
                out.append(f'<text x="{tx:.1f}" y="{y + BAR_H - 2}" font-size="8" text-anchor="{anchor}">{r:.2f}</text>')
            y += BAR_H
        y += GROUP_GAP
    return out


def write_chart(path, summary, title):
    allocators, workloads = summary.allocators, summary.workloads
    time = {(w, a): summary.workload_ratio(w, a) for w in workloads for a in allocators if (w, a) in summary.rss}
    rss = {(w, a): summary.rss_ratio(w, a) for w in workloads for a in allocators if (w, a) in summary.rss}
    group_h = len(allocators) * BAR_H + GROUP_GAP
    width = LABEL_W + 2 * PANEL_W + GAP + 20
    height = TOP + len(workloads) * group_h + 40
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="sans-serif" font-size="11">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="10" y="18" font-size="14" font-weight="bold">{escape(title)}</text>']
    x = 10
    for i, a in enumerate(allocators):  # legend
        out.append(f'<rect x="{x}" y="28" width="10" height="10" fill="{COLORS[i % len(COLORS)]}"/>')
        out.append(f'<text x="{x + 14}" y="37">{escape(a)}</text>')
        x += 24 + 7 * len(a)
    for j, w in enumerate(workloads):
        y = TOP + j * group_h + len(allocators) * BAR_H / 2 + 4
        out.append(f'<text x="{LABEL_W - 8}" y="{y}" text-anchor="end">{escape(w)}</text>')
    out += _panel(LABEL_W, f"time vs {summary.reference} (geometric mean)", time, allocators, workloads,
                  _extent(time.values()))
    out += _panel(LABEL_W + PANEL_W + GAP, f"peak RSS vs {summary.reference}", rss, allocators, workloads,
                  _extent(rss.values()))
    out.append(f'<text x="10" y="{height - 12}" font-size="9">left of the black line: faster / smaller than '
               f'{escape(summary.reference)}; hover a bar for its exact ratio</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")
