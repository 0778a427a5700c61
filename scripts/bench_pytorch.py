#!/usr/bin/python3
"""bench_pytorch.py - the block/pytorch/<shape> peer rows of the benchmark.

Times scripts/gen_golden.py's block (an independent PyTorch implementation
of the spec; its selective scan is a sequential Python loop over L) in
float32 on one thread, at the shapes of bench/shapes.inc, and writes the
rows in Google Benchmark's JSON format so they merge into the report:

    /usr/bin/python3 scripts/bench_pytorch.py --out pytorch.json \\
        [--shapes v0_T1,v2_T1] [--counts vss.json] [--repetitions 3]

--counts takes build/vss_bench's JSON: the FLOP and byte counts of a block
(bench/bench_counts.c, the one definition) are read back from its block rows
(rate x time) to give these rows the same flops / bytes / peak_frac counters.
Without torch it writes a file with no rows and a note in its context.
"""

import argparse
import json
import os
import re
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SHAPES_INC = os.path.join(ROOT, "bench", "shapes.inc")
SEED = 20240601


def read_shapes(path=SHAPES_INC):
    """bench/shapes.inc -> {name: dict of B H W C Di N R hidden has_z conv_bias}."""
    keys = ("B", "H", "W", "C", "Di", "N", "R", "hidden", "has_z", "conv_bias")
    shapes = {}
    with open(path) as f:
        for m in re.finditer(r"^SHAPE\(([^)]*)\)", f.read(), re.M):
            parts = [p.strip() for p in m.group(1).split(",")]
            shapes[parts[0]] = dict(zip(keys, (int(p) for p in parts[1:])))
    return shapes


def block_counts(vss_json):
    """{shape: (flop, bytes) of one block} from vss_bench's block rows."""
    counts = {}
    for b in vss_json.get("benchmarks", []):
        parts = b["name"].split("/")
        if parts[0] != "block" or b.get("run_type") != "iteration" or "flops" not in b:
            continue
        seconds = b["real_time"] * {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[b["time_unit"]]
        counts.setdefault(parts[2], (b["flops"] * seconds, b["bytes"] * seconds))
    return counts


def row(name, rep, reps, iters, real_s, cpu_s, counters, label):
    r = {"name": name, "family_index": 0, "per_family_instance_index": 0,
         "run_name": name, "run_type": "iteration", "repetitions": reps,
         "repetition_index": rep, "threads": 1, "iterations": iters,
         "real_time": real_s * 1e9, "cpu_time": cpu_s * 1e9, "time_unit": "ns",
         "label": label}
    r.update({k: v / real_s for k, v in counters.items()})
    return r


def aggregates(name, reps, runs, counters, label):
    """mean, median, stddev, cv (and vss_bench's min) rows as Google Benchmark
    writes them."""
    out = []
    real = [t for t, _ in runs]
    cpu = [c for _, c in runs]
    funcs = [("mean", statistics.mean, "time"), ("median", statistics.median, "time"),
             ("stddev", lambda v: statistics.stdev(v) if len(v) > 1 else 0.0, "time"),
             ("cv", lambda v: (statistics.stdev(v) / statistics.mean(v)) if len(v) > 1 else 0.0,
              "percentage"), ("min", min, "time")]
    for agg, fn, unit in funcs:
        r = row(name, 0, reps, len(runs), fn(real), fn(cpu), {}, label)
        r.update({"name": name + "_" + agg, "run_type": "aggregate", "aggregate_name": agg,
                  "aggregate_unit": unit})
        if unit == "percentage":  # a fraction, not a time
            r.update({"real_time": fn(real), "cpu_time": fn(cpu)})
        del r["repetition_index"]
        if agg in ("mean", "median", "min"):
            r.update({k: v / fn(real) for k, v in counters.items()})
        out.append(r)
    return out


def time_block(torch, gg, shape, s, reps, min_time, log):
    """[(real, cpu) seconds per iteration] for `reps` repetitions."""
    form = "v0" if s["has_z"] else "v05_noz"
    cfg = gg.make_cfg(form, s["C"], ssm_ratio=s["Di"] / s["C"], B=s["B"], H=s["H"], W=s["W"])
    if (cfg["Di"], cfg["N"], cfg["R"], cfg["hidden"]) != (s["Di"], s["N"], s["R"], s["hidden"]):
        log("  %s: gen_golden's %s config differs from bench/shapes.inc: skipped" % (shape, form))
        return None
    w = gg.make_weights(cfg, SEED)
    g = torch.Generator()
    g.manual_seed(SEED)
    x = torch.randn((s["B"], s["H"], s["W"], s["C"]), generator=g, dtype=torch.float32)
    with torch.no_grad():
        t0 = time.perf_counter()
        gg.block_forward(w, x, cfg, torch.float32)        # warm-up, and the sizing
        once = time.perf_counter() - t0
        iters = max(1, int(min_time / max(once, 1e-6)))
        runs = []
        for _ in range(reps):
            t0, c0 = time.perf_counter(), time.process_time()
            for _ in range(iters):
                gg.block_forward(w, x, cfg, torch.float32)
            runs.append(((time.perf_counter() - t0) / iters, (time.process_time() - c0) / iters))
    log("  block/pytorch/%s: %.1f ms (%d x %d iterations)"
        % (shape, 1e3 * statistics.median(r for r, _ in runs), reps, iters))
    return iters, runs


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--shapes", default="", help="comma-separated; default: all")
    ap.add_argument("--counts", help="build/vss_bench JSON with block rows")
    ap.add_argument("--repetitions", type=int, default=3)
    ap.add_argument("--min-time", type=float, default=0.1, help="seconds per repetition")
    a = ap.parse_args(argv)

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    shapes = read_shapes()
    wanted = [s for s in a.shapes.split(",") if s] or list(shapes)
    out = {"context": {"date": time.strftime("%Y-%m-%dT%H:%M:%S%z")}, "benchmarks": []}
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"  # one core, as the C rows (before torch loads its BLAS)
    try:
        import torch
        sys.path.insert(0, HERE)
        import gen_golden as gg
    except ImportError as e:
        out["context"]["pytorch"] = "skipped: %s" % e
        log("bench_pytorch: skipped (%s)" % e)
        with open(a.out, "w") as f:
            json.dump(out, f, indent=2)
        return 0
    torch.set_num_threads(1)
    out["context"]["pytorch"] = ("torch %s, 1 thread, float32, scripts/gen_golden.py "
                                 "block_forward (sequential scan loop)" % torch.__version__)
    counts, peak = {}, None
    if a.counts:
        with open(a.counts) as f:
            vss = json.load(f)
        counts = block_counts(vss)
        peak = float(vss.get("context", {}).get("vss_peak_gflops", 0)) * 1e9 or None
    label = "torch %s, 1 thread" % torch.__version__
    for shape in wanted:
        if shape not in shapes:
            log("bench_pytorch: unknown shape %s (bench/shapes.inc)" % shape)
            return 2
        got = time_block(torch, gg, shape, shapes[shape], a.repetitions, a.min_time, log)
        if got is None:
            continue
        iters, runs = got
        name = "block/pytorch/" + shape
        counters = {}
        if shape in counts:
            flop, nbytes = counts[shape]
            counters = {"flops": flop, "bytes": nbytes}
            if peak:
                counters["peak_frac"] = flop / peak
        for i, (real, cpu) in enumerate(runs):
            out["benchmarks"].append(row(name, i, a.repetitions, iters, real, cpu, counters, label))
        out["benchmarks"].extend(aggregates(name, a.repetitions, runs, counters, label))
    with open(a.out, "w") as f:
        json.dump(out, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
