#!/usr/bin/python3
"""report.py - benchmark JSON -> report.md, report.html and SVG charts.

    report.py merge --out DIR/bench.json vss.json [pytorch.json ...] [--context K=V ...]
    report.py render DIR          DIR/bench.json (+ DIR/verify.txt) -> DIR/report.*
    report.py summary BENCH.json  the block / scan tables `make bench` ends with
    report.py slim --out BASE.json BENCH.json [BENCH2.json ...]
                                  a baseline: the context, and per row its
                                  median, min and cv (or its only run); with
                                  several runs of the same code, each row's
                                  from the run where it was fastest (median)

The input is Google Benchmark's JSON (build/vss_bench, scripts/bench_pytorch.py).
Rows are named <op>/<impl>/<shape>[/<part>]; merge drops the "/real_time"
suffix Google Benchmark adds to rows measured with UseRealTime(), so the
names in bench.json are exactly those.  A row's figures are those of its
"median" aggregate when it ran with repetitions, else of its single run.
Charts: speedup over ref per block shape, the per-op time breakdown of the
best variant, fraction of peak per op, accuracy on the golden cases.
"""

import argparse
import html
import json
import os
import sys

UNIT_S = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}
PEERS = ("naive", "openblas", "pytorch")   # rows that are not variants
# The ops core/block.c calls, in order, for the breakdown (gelu is fused
# into fc1 in the block, so its standalone row is not part of it).
BREAKDOWN = [("layernorm", "norm"), ("linear", "in_proj"), ("dwconv3x3", None),
             ("linear", "x_proj"), ("linear", "dt_proj"), ("ssm_scan", None),
             ("layernorm", "out_norm"), ("gate", None), ("linear", "out_proj"),
             ("layernorm", "norm2"), ("linear", "fc1"), ("linear", "fc2")]
VERDICTS = ["PASS", "MARGINAL", "FAIL", "MISTRUSTED", "ERROR"]


# --------------------------------------------------------------------- data

def clean_name(name):
    return name.replace("/real_time", "")


def load(path):
    with open(path) as f:
        return json.load(f)


class Row:
    """One benchmark row: its median (or only) run, or its error."""

    def __init__(self, name):
        self.name = name
        parts = name.split("/")
        parts += [None] * (4 - len(parts))
        self.op, self.impl, self.shape, self.part = parts[:4]
        self.seconds = None       # median wall time per iteration
        self.cv = None            # coefficient of variation over repetitions
        self.flops = self.bytes = self.peak_frac = None
        self.label = ""
        self.error = None

    @property
    def what(self):
        return self.op + ("/" + self.part if self.part else "")


def rows_of(data):
    """{name: Row} from a benchmark JSON, in the file's order."""
    rows = {}
    for b in data.get("benchmarks", []):
        name = clean_name(b.get("run_name", b["name"]))
        r = rows.setdefault(name, Row(name))
        if b.get("error_occurred"):
            r.error = b.get("error_message", "error")
            continue
        kind = b.get("aggregate_name") if b.get("run_type") == "aggregate" else "run"
        if kind == "cv":
            r.cv = b["real_time"]
        if kind not in ("median", "run"):
            continue
        if kind == "run" and r.seconds is not None:
            continue  # the first run, until the median comes
        r.seconds = b["real_time"] * UNIT_S[b["time_unit"]]
        r.flops, r.bytes, r.peak_frac = b.get("flops"), b.get("bytes"), b.get("peak_frac")
        r.label = b.get("label", "")
    return rows


def merge(paths, out, extra_context):
    """One JSON: the first file's context (+ the others' new keys, + extra),
    every file's rows with clean names and distinct family indices."""
    merged = {"context": {}, "benchmarks": []}
    family = 0
    for path in paths:
        data = load(path)
        for k, v in data.get("context", {}).items():
            merged["context"].setdefault(k, v)
        base = family
        for b in data.get("benchmarks", []):
            b = dict(b)
            for k in ("name", "run_name"):
                if k in b:
                    b[k] = clean_name(b[k])
            b["family_index"] = base + b.get("family_index", 0)
            family = max(family, b["family_index"] + 1)
            merged["benchmarks"].append(b)
    merged["context"].update(extra_context)
    with open(out, "w") as f:
        json.dump(merged, f, indent=1)


def slim_entries(data):
    """The entries of a run that a baseline keeps: per row its median, min
    and cv aggregates, its only run, or its error."""
    keep = []
    for b in data.get("benchmarks", []):
        agg = b.get("aggregate_name") if b.get("run_type") == "aggregate" else None
        if agg in ("median", "min", "cv") or b.get("error_occurred") or \
                (agg is None and b.get("repetitions", 1) == 1):
            keep.append(b)
    return keep


def row_time(entries):
    """A row's time in seconds from its kept entries (median, or its only
    run); None for an error or no time."""
    for b in entries:
        if b.get("error_occurred"):
            return None
    for b in entries:
        if b.get("aggregate_name") in ("median", None) and "real_time" in b:
            return b["real_time"] * UNIT_S.get(b.get("time_unit", "ns"), 1e-9)
    return None


def slim(paths, out):
    """What scripts/regress.py needs of a run, a third of its size.  With
    several runs (the same code, on a noisy machine), each row comes from
    the run where its median was lowest (a row that failed in one run and
    ran in another comes from one where it ran); the context is the first
    run's, with slim_runs naming the inputs."""
    runs = [load(p) for p in paths]
    rows = {}  # run_name -> (time, entries), the best so far, in first-seen order
    for data in runs:
        by_row = {}
        for b in slim_entries(data):
            by_row.setdefault(b.get("run_name", b["name"]), []).append(b)
        for name, entries in by_row.items():
            t = row_time(entries)
            if name not in rows:
                rows[name] = (t, entries)
                continue
            best = rows[name][0]
            if t is not None and (best is None or t < best):
                rows[name] = (t, entries)
    data = runs[0]
    data["benchmarks"] = [b for _, entries in rows.values() for b in entries]
    if len(paths) > 1:
        data.setdefault("context", {})["slim_runs"] = ", ".join(paths)
    with open(out, "w") as f:
        json.dump(data, f, indent=0)
        f.write("\n")


def ordered(seq):
    return list(dict.fromkeys(seq))


def variants_of(rows, op):
    """Implementations with rows of op: variants in file order (ref last
    among them), then the peers."""
    impls = ordered(r.impl for r in rows.values() if r.op == op)
    var = [i for i in impls if i not in PEERS and i != "ref"]
    return var + [i for i in impls if i == "ref"] + [i for i in impls if i in PEERS]


def shapes_of(rows, op):
    return ordered(r.shape for r in rows.values() if r.op == op)


def seconds(rows, op, impl, shape, part=None):
    r = rows.get("/".join(x for x in (op, impl, shape, part) if x))
    return r.seconds if r and r.error is None else None


def best_variant(rows, shape):
    """The fastest verified block variant at shape (not ref, not a peer)."""
    best = None
    for impl in variants_of(rows, "block"):
        t = seconds(rows, "block", impl, shape)
        if impl not in PEERS and impl != "ref" and t and (best is None or t < best[1]):
            best = (impl, t)
    return best[0] if best else "ref"


def accuracy(context):
    """{(case, variant): {verdict, nmse, max_abs, max_rel, frac}} from the
    context's accuracy/<case>/<variant> entries (build/vss_bench)."""
    acc = {}
    for k, v in context.items():
        if not k.startswith("accuracy/"):
            continue
        _, case, variant = k.split("/", 2)
        fig = {}
        for tok in v.split():
            if "=" in tok:
                key, val = tok.split("=", 1)
                try:
                    fig[key] = val if key == "verdict" else float(val)
                except ValueError:
                    fig[key] = val
        fig.setdefault("verdict", "ERROR")
        acc[(case, variant)] = fig
    return acc


# ------------------------------------------------------------------ formats

def ms(t):
    return "–" if t is None else ("%.3f" % (t * 1e3) if t < 0.01 else "%.2f" % (t * 1e3))


def num(v, fmt="%.2f"):
    return "–" if v is None else fmt % v


def pct(v):
    return "–" if v is None else ("%.1f%%" % (100 * v) if v >= 0.01 else "%.2f%%" % (100 * v))


# ------------------------------------------------------------------- tables

def speedup_table(rows, op, over):
    """Median time of op per shape and implementation, and the speedup over
    implementation `over` (blocks: ref; ssm_scan: the naive scan)."""
    impls = variants_of(rows, op)
    head = ["shape"] + ["%s ms" % i for i in impls]
    body = []
    for shape in shapes_of(rows, op):
        base = seconds(rows, op, over, shape)
        line = [shape]
        for impl in impls:
            t = seconds(rows, op, impl, shape)
            r = rows.get("%s/%s/%s" % (op, impl, shape))
            if t is None:
                line.append("FAILED" if r and r.error and r.error.startswith("FAILED") else "–")
            elif impl == over or not base:
                line.append(ms(t))
            else:
                line.append("%s (%.2fx)" % (ms(t), base / t))
        body.append(line)
    return head, body


def breakdown(rows, shape, impl):
    """[(op[/part], seconds)] of the block's ops at shape, and the block's time."""
    parts = []
    for op, part in BREAKDOWN:
        t = seconds(rows, op, impl, shape, part)
        if t is not None:
            parts.append((op + ("/" + part if part else ""), t))
    return parts, seconds(rows, "block", impl, shape)


def breakdown_shapes(rows):
    """Block shapes where the best variant's op rows were all run (those of
    the layernorm, the conv and the scan at least)."""
    out = []
    for shape in shapes_of(rows, "block"):
        impl = best_variant(rows, shape)
        parts, total = breakdown(rows, shape, impl)
        have = {n for n, _ in parts}
        if total and {"layernorm/norm", "dwconv3x3", "ssm_scan"} <= have:
            out.append((shape, impl, parts, total))
    return out


def breakdown_table(items):
    """Rows: the ops; columns: shape (variant); ms and % of the block."""
    names = ordered(n for _, _, parts, _ in items for n, _ in parts)
    head = ["op"] + ["%s (%s)" % (s, v) for s, v, _, _ in items]
    body = []
    for n in names:
        line = [n]
        for _, _, parts, total in items:
            t = dict(parts).get(n)
            line.append("–" if t is None else "%s ms (%.0f%%)" % (ms(t), 100 * t / total))
        body.append(line)
    sums = [sum(t for _, t in parts) for _, _, parts, _ in items]
    body.append(["sum of the op rows"] + [ms(s) + " ms" for s in sums])
    body.append(["block row"] + [ms(t) + " ms" for _, _, _, t in items])
    body.append(["other (block - sum)"] + ["%s ms" % ms(t - s) if t >= s else "-%s ms" % ms(s - t)
                                           for (_, _, _, t), s in zip(items, sums)])
    return head, body


def all_rows_table(rows):
    head = ["row", "median ms", "GFLOP/s", "GB/s", "% of peak", "cv", "check"]
    body = []
    for r in rows.values():
        if r.error:
            body.append([r.name, "–", "–", "–", "–", "–", r.error])
            continue
        body.append([r.name, ms(r.seconds), num(r.flops and r.flops * 1e-9),
                     num(r.bytes and r.bytes * 1e-9), pct(r.peak_frac), pct(r.cv), r.label])
    return head, body


def accuracy_variants(acc, ctx):
    """The variants of the accuracy figures, in the registry's order."""
    listed = [v.split()[0] for v in ctx.get("vss_variants", "").split("; ") if v]
    have = ordered(v for _, v in acc)
    return [v for v in listed if v in have] + [v for v in have if v not in listed]


def accuracy_table(acc, variants):
    head = ["case"] + variants
    body = []
    for case in ordered(c for c, _ in acc):
        line = [case]
        for v in variants:
            f = acc.get((case, v))
            line.append("–" if f is None else "%s nmse %s, %s of limit" % (
                f["verdict"], num(f.get("nmse"), "%.2g"), num(f.get("frac"), "%.2g")))
        body.append(line)
    return head, body


def noise(rows):
    cvs = sorted((r.cv, r.name) for r in rows.values() if r.cv is not None)
    if not cvs:
        return None
    return cvs[len(cvs) // 2][0], cvs[-1], cvs[-5:][::-1]


# ------------------------------------------------------------------- charts

def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    plt.rcParams.update({"svg.fonttype": "none", "font.size": 9})
    return plt


def chart_speedup(rows, path):
    impls = [i for i in variants_of(rows, "block") if i != "ref"]
    shapes = shapes_of(rows, "block")
    if not impls or not shapes:
        return False
    plt = _plt()
    fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(shapes) + 2), 3.6))
    width = 0.8 / len(impls)
    for j, impl in enumerate(impls):
        xs, ys = [], []
        for i, shape in enumerate(shapes):
            t, ref = seconds(rows, "block", impl, shape), seconds(rows, "block", "ref", shape)
            if t and ref:
                xs.append(i + (j - (len(impls) - 1) / 2) * width)
                ys.append(ref / t)
        ax.bar(xs, ys, width, label=impl)
    ax.axhline(1.0, color="black", lw=0.8)
    ax.set_yscale("log")
    ax.set_xticks(range(len(shapes)), shapes)
    ax.set_ylabel("speedup over ref (x, log)")
    ax.set_title("VSSBlock forward: speedup over the ref variant (median, 1 core)")
    ax.legend(fontsize=8, ncol=min(len(impls), 6))
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


def chart_breakdown(items, path):
    if not items:
        return False
    plt = _plt()
    names = ordered(n for _, _, parts, _ in items for n, _ in parts) + ["other"]
    cmap = plt.get_cmap("tab20")
    fig, ax = plt.subplots(figsize=(8, 1.6 + 0.5 * len(items)))
    for i, (shape, impl, parts, total) in enumerate(items):
        left = 0.0
        share = dict(parts)
        share["other"] = max(0.0, total - sum(share.values()))
        scale = sum(share.values())
        for j, n in enumerate(names):
            w = 100 * share.get(n, 0.0) / scale
            ax.barh(i, w, left=left, color=cmap(j % 20), label=n if i == 0 else None)
            left += w
        ax.text(101, i, "%s ms" % ms(total), va="center", fontsize=8)
    ax.set_yticks(range(len(items)), ["%s (%s)" % (s, v) for s, v, _, _ in items])
    ax.invert_yaxis()
    ax.set_xlim(0, 118)
    ax.set_xlabel("% of the block's time (op rows timed alone; other: the rest of the block)")
    ax.set_title("Where the time goes: best variant per shape")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return True


def grouped_barh(labels, series, value, path, xlabel, title, marks=()):
    """Horizontal bars on a log axis: one group per label, one bar per
    series, value(label, series) -> number or None; marks: (x, colour)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 1.0 + 0.32 * len(labels) * max(1, len(series)) ** 0.5))
    h = 0.8 / len(series)
    for j, name in enumerate(series):
        ys, xs = [], []
        for i, label in enumerate(labels):
            v = value(label, name)
            if v is not None:
                ys.append(i + (j - (len(series) - 1) / 2) * h)
                xs.append(v)
        ax.barh(ys, xs, h, label=name)
    for x, colour in marks:
        ax.axvline(x, color=colour, lw=0.8)
    ax.set_xscale("log")
    ax.set_yticks(range(len(labels)), labels)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


def chart_peak(rows, shape, path):
    """% of peak of every op row at shape, one bar per implementation."""
    ops = [r for r in rows.values() if r.shape == shape and r.op != "block"
           and r.peak_frac and r.error is None]
    if not ops:
        return False
    by = {(r.what, r.impl): 100 * r.peak_frac for r in ops}
    return grouped_barh(ordered(r.what for r in ops), ordered(r.impl for r in ops),
                        lambda w, impl: by.get((w, impl)), path,
                        "% of the measured FP32 FMA peak of one core (log)",
                        "Fraction of peak per op at %s" % shape)


def chart_accuracy(acc, variants, path):
    if not acc:
        return False

    def frac(case, variant):
        f = acc.get((case, variant), {}).get("frac")
        return max(f, 1e-6) if isinstance(f, float) else None
    return grouped_barh(ordered(c for c, _ in acc), variants, frac, path,
                        "used fraction of the case's tolerance (log; 1 = FAIL, 0.25 = MARGINAL)",
                        "Accuracy vs the float64 golden truth", ((1.0, "red"), (0.25, "orange")))


# ----------------------------------------------------------------- document

class Doc:
    """Headings, paragraphs, tables, images and preformatted text, written
    out as Markdown or as a standalone HTML page."""

    def __init__(self):
        self.blocks = []

    def h(self, text):
        self.blocks.append(("h", text))

    def p(self, text):
        self.blocks.append(("p", text))

    def table(self, head, body):
        self.blocks.append(("table", (head, body)))

    def img(self, src, alt):
        self.blocks.append(("img", (src, alt)))

    def pre(self, text):
        self.blocks.append(("pre", text))

    def markdown(self, title):
        out = ["# " + title, ""]
        for kind, v in self.blocks:
            if kind == "h":
                out += ["## " + v, ""]
            elif kind == "p":
                out += [v, ""]
            elif kind == "table":
                head, body = v
                cell = lambda s: str(s).replace("|", "\\|")
                out.append("| " + " | ".join(map(cell, head)) + " |")
                out.append("|" + "---|" * len(head))
                out += ["| " + " | ".join(map(cell, line)) + " |" for line in body]
                out.append("")
            elif kind == "img":
                out += ["![%s](%s)" % (v[1], v[0]), ""]
            elif kind == "pre":
                out += ["```", v.rstrip("\n"), "```", ""]
        return "\n".join(out)

    def html(self, title):
        e = html.escape
        out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
               "<title>%s</title>" % e(title),
               "<style>body{font-family:sans-serif;max-width:1150px;margin:1em auto;padding:0 1em;"
               "color:#222}table{border-collapse:collapse;margin:.5em 0 1.2em;font-size:13px}"
               "td,th{border:1px solid #ccc;padding:3px 7px;text-align:left}"
               "th{background:#f0f0f0}tr:nth-child(even) td{background:#fafafa}"
               "img{max-width:100%;border:1px solid #ddd;margin:.5em 0}"
               "pre{background:#f6f6f6;padding:.6em;overflow-x:auto;font-size:12px}"
               "h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}</style>",
               "</head><body>", "<h1>%s</h1>" % e(title)]
        for kind, v in self.blocks:
            if kind == "h":
                out.append("<h2>%s</h2>" % e(v))
            elif kind == "p":
                out.append("<p>%s</p>" % e(v).replace("`", ""))
            elif kind == "table":
                head, body = v
                out.append("<table><tr>" + "".join("<th>%s</th>" % e(str(c)) for c in head) + "</tr>")
                out += ["<tr>" + "".join("<td>%s</td>" % e(str(c)) for c in line) + "</tr>"
                        for line in body]
                out.append("</table>")
            elif kind == "img":
                out.append('<img src="%s" alt="%s">' % (e(v[0]), e(v[1])))
            elif kind == "pre":
                out.append("<pre>%s</pre>" % e(v))
        out.append("</body></html>")
        return "\n".join(out)


def machine_table(ctx):
    keys = [("CPU", "vss_cpu_model"), ("ISA", "vss_isa"), ("cores", "vss_cores"),
            ("measured FP32 peak, 1 core", "vss_peak_gflops"), ("peak probe", "vss_peak_probe"),
            ("MHz (Google Benchmark)", "mhz_per_cpu"), ("compiler", "vss_compiler"),
            ("flags", "vss_cflags"), ("OpenBLAS", "vss_openblas"),
            ("Google Benchmark", "vss_libbenchmark"), ("its build type", "library_build_type"),
            ("PyTorch row", "pytorch"), ("variants", "vss_variants"),
            ("counts", "vss_counts"), ("row checks", "vss_verify_limits"),
            ("host", "host_name"), ("date", "date"), ("commit", "vss_git"),
            ("set", "vss_bench_set"), ("load average", "load_avg")]
    body = []
    for label, k in keys:
        if k in ctx:
            v = ctx[k]
            if k == "vss_peak_gflops":
                v = "%s GFLOP/s" % v
            if isinstance(v, list):
                v = " ".join("%.2f" % x for x in v)
            body.append([label, v])
    caches = ctx.get("caches") or []
    if caches:
        body.append(["caches", ", ".join("L%d%s %d KiB%s" % (
            c["level"], {"Data": "d", "Instruction": "i"}.get(c["type"], ""), c["size"] // 1024,
            " (x%d shared)" % c["num_sharing"] if c.get("num_sharing", 1) > 1 else "")
            for c in caches)])
    return ["", ""], body


def build_doc(data, rows, out_dir, verify_text):
    ctx = data.get("context", {})
    doc = Doc()
    n_err = sum(1 for r in rows.values() if r.error)
    doc.p("%d rows (%d failed or skipped), %s. Times are the median of the repetitions, "
          "wall clock, one core unless the variant says otherwise; speedups are over the ref "
          "variant (blocks) and over the naive scalar scan (ssm_scan)."
          % (len(rows), n_err, ctx.get("date", "")))
    doc.h("Block: time and speedup over ref")
    doc.table(*speedup_table(rows, "block", "ref"))
    if chart_speedup(rows, os.path.join(out_dir, "speedup.svg")):
        doc.img("speedup.svg", "speedup over ref per block shape")
    if shapes_of(rows, "ssm_scan"):
        doc.h("Selective scan: time and speedup over the naive scan")
        doc.table(*speedup_table(rows, "ssm_scan", "naive"))
    items = breakdown_shapes(rows)
    if items:
        doc.h("Per-op time breakdown of the best variant")
        doc.p("The op rows of the fastest block variant at each shape whose op rows ran, "
              "each timed alone on its own data, against the block row; 'other' is the "
              "block's own glue (copies, the residual) and cache effects between ops.")
        doc.table(*breakdown_table(items))
        if chart_breakdown(items, os.path.join(out_dir, "breakdown.svg")):
            doc.img("breakdown.svg", "per-op time breakdown")
    op_shapes = [s for s in ordered(r.shape for r in rows.values() if r.op != "block")]
    doc.h("GFLOP/s and fraction of peak per op")
    doc.p("Peak: %s GFLOP/s per core (%s). Counters: %s."
          % (ctx.get("vss_peak_gflops", "?"), ctx.get("vss_peak_probe", "?"),
             ctx.get("vss_counts", "?")))
    for shape in op_shapes:
        name = "peak_%s.svg" % shape
        if len([r for r in rows.values() if r.shape == shape and r.op != "block"]) >= 4 and \
                chart_peak(rows, shape, os.path.join(out_dir, name)):
            doc.img(name, "fraction of peak per op at " + shape)
    acc = accuracy(ctx)
    doc.h("Accuracy")
    if acc:
        doc.p("Every runnable variant on every golden case (%s), judged on the residual branch "
              "y - x against the float64 truth with the case's limits (core/tolerances.h)."
              % ctx.get("vss_golden_dir", "golden"))
        variants = accuracy_variants(acc, ctx)
        doc.table(*accuracy_table(acc, variants))
        if chart_accuracy(acc, variants, os.path.join(out_dir, "accuracy.svg")):
            doc.img("accuracy.svg", "accuracy per golden case")
    else:
        doc.p("No accuracy figures in this run's context.")
    doc.p("Row checks before timing: %s." % ctx.get("vss_verify_limits", "?"))
    if verify_text is not None:
        doc.p("Output of `vssbench verify` (verify.txt):")
        doc.pre(verify_text)
    nz = noise(rows)
    if nz:
        doc.h("Noise")
        doc.p("Coefficient of variation of the repetitions: median %s, largest %s (%s). "
              "Noisiest rows: %s." % (pct(nz[0]), pct(nz[1][0]), nz[1][1],
                                     ", ".join("%s %s" % (n, pct(c)) for c, n in nz[2])))
    doc.h("Machine")
    doc.table(*machine_table(ctx))
    doc.h("All rows")
    doc.table(*all_rows_table(rows))
    return doc


def render(out_dir):
    data = load(os.path.join(out_dir, "bench.json"))
    rows = rows_of(data)
    vpath = os.path.join(out_dir, "verify.txt")
    verify_text = open(vpath).read() if os.path.exists(vpath) else None
    doc = build_doc(data, rows, out_dir, verify_text)
    title = "vssbench report %s" % os.path.basename(os.path.abspath(out_dir))
    with open(os.path.join(out_dir, "report.md"), "w") as f:
        f.write(doc.markdown(title))
    with open(os.path.join(out_dir, "report.html"), "w") as f:
        f.write(doc.html(title))


def print_table(head, body):
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body)]
    for line in [head] + [["-" * w for w in widths]] + body:
        print("  ".join(str(c).ljust(w) for c, w in zip(line, widths)).rstrip())


def summary(path):
    rows = rows_of(load(path))
    if shapes_of(rows, "block"):
        print("Block forward, median ms (speedup over ref):")
        print_table(*speedup_table(rows, "block", "ref"))
    if shapes_of(rows, "ssm_scan"):
        print("\nssm_scan, median ms (speedup over naive):")
        print_table(*speedup_table(rows, "ssm_scan", "naive"))
    failed = [r for r in rows.values() if r.error]
    if failed:
        print("\n%d rows failed or were skipped:" % len(failed))
        for r in failed:
            print("  %s: %s" % (r.name, r.error))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("merge")
    m.add_argument("--out", required=True)
    m.add_argument("--context", action="append", default=[], metavar="KEY=VALUE")
    m.add_argument("inputs", nargs="+")
    r = sub.add_parser("render")
    r.add_argument("dir")
    s = sub.add_parser("summary")
    s.add_argument("json")
    b = sub.add_parser("slim")
    b.add_argument("--out", required=True)
    b.add_argument("json", nargs="+")
    a = ap.parse_args(argv)
    if a.cmd == "merge":
        extra = dict(kv.split("=", 1) for kv in a.context)
        merge([p for p in a.inputs if os.path.exists(p)], a.out, extra)
    elif a.cmd == "render":
        render(a.dir)
    elif a.cmd == "slim":
        slim(a.json, a.out)
    else:
        summary(a.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
