#!/usr/bin/python3
"""regress.py - the regression gate: a benchmark JSON against a baseline.

    regress.py [--threshold PCT] [--stat median|min] [--acc-factor F] BASELINE.json [CURRENT.json]

CURRENT defaults to the newest reports/*/bench.json.  The rows both files
have are compared with Google Benchmark's own tool (compare.py's gbench
package, Debian libbenchmark-tools, /usr/share/benchmark) and printed; the
gate fails (exit 1) when

  - a row's median wall time (--stat min: its fastest repetition, steadier
    on a busy machine; the median where a file lacks it) is more than PCT %
    (default 10) above the baseline's (rows without repetitions: their run);
  - a row that passed in the baseline now fails (e.g. "FAILED verification");
  - an accuracy figure of the context (accuracy/<case>/<variant>, written by
    build/vss_bench from the golden cases) got worse: its verdict dropped
    (PASS > MARGINAL > FAIL), or the used fraction of its tolerance grew
    more than F times (default 2) and past 1 % of the tolerance (below that,
    a rounding change is not a regression).

Rows only one side has are listed, not judged (a subset run is fine).
Exit status: 0 pass, 1 regression, 2 usage or unreadable input.
"""

import argparse
import glob
import os
import sys

GBENCH_DIR = "/usr/share/benchmark"
VERDICT_RANK = {"PASS": 0, "MARGINAL": 1, "FAIL": 2, "MISTRUSTED": 2, "ERROR": 2}
ACC_FLOOR = 0.01

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import report  # noqa: E402  (rows_of, accuracy, clean_name)


def newest_report(root):
    found = sorted(glob.glob(os.path.join(root, "reports", "*", "bench.json")),
                   key=os.path.getmtime)
    return found[-1] if found else None


def timed_rows(data):
    """The benchmark list with clean names and without failed rows."""
    out = []
    for b in data.get("benchmarks", []):
        if b.get("error_occurred"):
            continue
        b = dict(b)
        for k in ("name", "run_name"):
            if k in b:
                b[k] = report.clean_name(b[k])
        out.append(b)
    return out


def time_changes(diff, stat):
    """{row: relative change of wall time} from compare.py's report: the
    `stat` aggregate where both have it, else the median, else the mean
    over the runs."""
    found = {}  # (row, kind) -> change
    for d in diff:
        if d["name"] == "OVERALL_GEOMEAN":
            continue
        agg = d.get("aggregate_name") if d.get("run_type") == "aggregate" else "runs"
        ms = d["measurements"]
        row = d["name"][: -len(agg) - 1] if agg != "runs" else d["name"]
        found[(row, agg)] = sum(m["time"] for m in ms) / len(ms)
    changes = {}
    for kind in ("runs", "median", stat):  # later kinds win
        changes.update({row: c for (row, k), c in found.items() if k == kind})
    return changes


def accuracy_regressions(base_ctx, cur_ctx, factor):
    bad = []
    base, cur = report.accuracy(base_ctx), report.accuracy(cur_ctx)
    for key in sorted(set(base) & set(cur)):
        b, c = base[key], cur[key]
        what = "accuracy %s/%s" % key
        if VERDICT_RANK.get(c["verdict"], 2) > VERDICT_RANK.get(b["verdict"], 2):
            bad.append("%s: %s -> %s" % (what, b["verdict"], c["verdict"]))
            continue
        bf, cf = b.get("frac"), c.get("frac")
        if isinstance(bf, float) and isinstance(cf, float) and cf > ACC_FLOOR and cf > factor * bf:
            bad.append("%s: %.3g -> %.3g of its tolerance (more than %gx)" % (what, bf, cf, factor))
    return bad


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("baseline")
    ap.add_argument("current", nargs="?")
    ap.add_argument("--threshold", type=float, default=10.0, help="percent (default 10)")
    ap.add_argument("--stat", choices=("median", "min"), default="median")
    ap.add_argument("--acc-factor", type=float, default=2.0)
    a = ap.parse_args(argv)
    current = a.current or newest_report(os.path.dirname(HERE))
    if not current:
        print("regress: no CURRENT given and no reports/*/bench.json", file=sys.stderr)
        return 2
    try:
        base, cur = report.load(a.baseline), report.load(current)
    except (OSError, ValueError) as e:
        print("regress: %s" % e, file=sys.stderr)
        return 2
    sys.path.insert(0, GBENCH_DIR)
    from gbench import report as gbreport  # Google Benchmark's compare.py

    print("regress: baseline %s\n         current  %s\n" % (a.baseline, current))
    diff = gbreport.get_difference_report(
        {"benchmarks": timed_rows(base)}, {"benchmarks": timed_rows(cur)}, utest=False)
    for line in gbreport.print_difference_report(diff, include_aggregates_only=True,
                                                 utest=False, use_color=False):
        print(line)

    problems = []
    limit = a.threshold / 100.0
    changes = time_changes(diff, a.stat)
    for name, change in changes.items():
        if change > limit:
            problems.append("%s: %+.1f%% time (threshold %+.0f%%)" % (name, 100 * change, a.threshold))
    brows, crows = report.rows_of(base), report.rows_of(cur)
    for name in brows:
        if name in crows and brows[name].error is None and crows[name].error is not None:
            problems.append("%s: now fails: %s" % (name, crows[name].error))
    problems += accuracy_regressions(base.get("context", {}), cur.get("context", {}), a.acc_factor)
    only_base = sorted(set(brows) - set(crows))
    only_cur = sorted(set(crows) - set(brows))
    if only_base or only_cur:
        print("\nnot compared: %d rows only in the baseline, %d only in the current run"
              % (len(only_base), len(only_cur)))
    print("\nregress: %d rows compared (%s, threshold %+.0f%%), %d accuracy figures"
          % (len(changes), a.stat, a.threshold,
             len(set(report.accuracy(base.get("context", {})))
                 & set(report.accuracy(cur.get("context", {}))))))
    if problems:
        print("REGRESSION (%d):" % len(problems))
        for p in problems:
            print("  " + p)
        return 1
    print("no regression")
    return 0


if __name__ == "__main__":
    sys.exit(main())
