"""Calibration of 05_jit's CPU speed verdicts on the chain relu(x * y) + x (issue 15).

In real sandboxed kernels, as a grade runs them: a "student" kernel holding an honest jitted chain, an
eager chain and a chain that converts to NumPy inside (with two JAX CPU devices, as 05's locked setup
cell sets), and the grader's reference kernels (`checks.speed.ReferenceKernel` with
autograder/05_jit/_speed.py's REFERENCE_SOURCE and the course's limits; the eager and the jitted chain
each in its own, as autograder/05_jit/conftest.py opens them on a CPU; `--one-reference-kernel`: both
in one). Each run is one `measure_speed` of one variant with the grader's eager and jitted chains timed
beside it (shapes, requests and calls per request from _speed.py unless overridden); the variants take
turns run by run, so load drifts hit all alike. Printed per run: the run's gap (the grader's own eager
over jitted chain, median over requests), the student's position between them in log space (0: the
jitted chain's time, 1: the eager one's; SpeedRun.position), the student's speedup over eager and ratio
to jit, the run's seconds, and the verdict of _speed.cpu_chain_verdict on that run alone (pass, FAIL,
inconclusive); then per variant the distributions, the inconclusive rate, and what grades would decide
taking consecutive runs as a grade's first run and re-measures, judged pooled (as test_compiled.py).

Run: .venv/bin/python -m bench.speed_verdicts [--runs 15] [--variants honest eager numpy_inside]
     [--busy 1] [--rows 2300 2600 --cols 2800 3100 --per 2 --requests 8] [--json build/bench/speed.json]
     .venv/bin/python -m bench.speed_verdicts --analyze build/bench/speed.json ...  (summaries again, with
     the current _speed.py lines)
(`--busy N` starts N busy loops, `python -c 'while 1: pass'`, beside the runs and stops them after.)
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from pt2jax.checks import load_helper
from pt2jax.checks.speed import ReferenceKernel, SpeedRun, fresh_calls, measure_speed
from pt2jax.config import Limits

REPO = Path(__file__).resolve().parents[1]
SPEED = REPO / "autograder" / "05_jit" / "_speed.py"

STUDENT_SOURCE = """
import jax, jax.numpy as jnp, numpy as np
jax.config.update("jax_num_cpu_devices", 2)  # as 05's locked setup cell does

def eager(x, y):
    return jax.nn.relu(x * y) + x

honest = jax.jit(eager)

def numpy_inside(x, y):
    xs = np.asarray(x)
    return jnp.asarray(np.maximum(xs * np.asarray(y), 0) + xs)
"""


def _one_run(speed: Any, student: Any, refs: Any, name: str, rng: np.random.Generator,
             shape: tuple[int, int], per: int, requests: int) -> dict[str, Any]:
    calls = fresh_calls(rng, [shape, shape], 1 + requests * per)
    start = time.perf_counter()
    run = measure_speed(student, name, calls, reference=speed.numpy_chain, rng=rng, per_request=per,
                        kernel_references={"eager": "eager_chain", "jit": "jit_chain"}, reference_kernel=refs,
                        min_bytes=3 * calls[0][0].nbytes)
    took = time.perf_counter() - start
    position, gap = speed.chain_position(run)
    verdict = speed.cpu_chain_verdict(run, name)
    return {
        "variant": name, "shape": list(shape), "seconds": round(took, 2), "gap": gap, "position": position,
        "speedup": 1 / max(run.ratio_to("eager"), 1e-9), "x_jit": run.ratio_to("jit"),
        "x_jit_less_noise": run.ratio_to("jit", minus_noise=speed.NOISE_SIGMAS),
        "student_ms": run.median_s * 1e3, "eager_ms": run.reference_s("eager") * 1e3,
        "jit_ms": run.reference_s("jit") * 1e3, "noise_ms": run.noise_s * 1e3,
        "verdict": "inconclusive" if verdict.inconclusive else ("pass" if verdict.passed else "FAIL"),
        "load": os.getloadavg()[0],
        "raw": {"student": list(run.times_s), "baseline": list(run.baseline_s),
                "eager": [float(np.median(r)) for r in run.references["eager"]],
                "jit": [float(np.median(r)) for r in run.references["jit"]]},
    }


def _run_of(row: dict[str, Any]) -> SpeedRun:
    """A run rebuilt from a printed row's raw per-request times (for the pooled verdicts)."""
    raw = row["raw"]
    return SpeedRun(row["variant"], first_s=0.0, times_s=tuple(raw["student"]), baseline_s=tuple(raw["baseline"]),
                    first_compiles=1, later_compiles=0,
                    references={"eager": tuple((t,) for t in raw["eager"]), "jit": tuple((t,) for t in raw["jit"])})


def _grades(speed: Any, rows: list[dict[str, Any]]) -> list[str]:
    """What a grade would decide on consecutive runs taken as its first run and re-measures
    (1 + REMEASURES runs at most, judged pooled as test_compiled.py does): 'pass@k', 'FAIL', 'inconclusive'."""
    n = 1 + speed.REMEASURES
    out = []
    for start in range(0, len(rows) - n + 1, n):
        runs = [_run_of(r) for r in rows[start:start + n]]
        for k in range(n):
            verdict = speed.cpu_chain_verdict(SpeedRun.pooled(runs[:k + 1]))
            if verdict.passed:
                out.append(f"pass@{k + 1}")
                break
        else:
            out.append("inconclusive" if verdict.inconclusive else "FAIL")
    return out


def summary(speed: Any, rows: list[dict[str, Any]], variants: list[str]) -> None:
    for name in variants:
        mine = [r for r in rows if r["variant"] == name]
        if not mine:
            continue
        verdicts = [speed.cpu_chain_verdict(_run_of(r)) for r in mine]  # with the current lines
        kinds = ["inconclusive" if v.inconclusive else ("pass" if v.passed else "FAIL") for v in verdicts]
        counts = {v: kinds.count(v) for v in ("pass", "FAIL", "inconclusive")}
        rate = counts["inconclusive"] / len(mine)
        loads = [r["load"] for r in mine]
        print(f"{name} ({len(mine)} runs, load {min(loads):.1f}-{max(loads):.1f}; single runs: {counts['pass']} pass,"
              f" {counts['FAIL']} FAIL, {counts['inconclusive']} inconclusive = {rate:.0%};"
              f" seconds {_spread([r['seconds'] for r in mine])})")
        for key in ("gap", "position", "speedup", "x_jit"):
            print(f"  {key:>9}: {_spread([r[key] for r in mine])}")
        decided = [r for r in mine if r["gap"] >= speed.CPU_MIN_GAP]
        print(f"  position where gap >= {speed.CPU_MIN_GAP}: {_spread([r['position'] for r in decided])}")
        print(f"  grades (consecutive runs as first run + re-measures, pooled): {', '.join(_grades(speed, mine))}")


def _spread(values: list[float]) -> str:
    v = np.asarray([x for x in values if np.isfinite(x)])
    if not v.size:
        return "n/a"
    q = np.percentile(v, [0, 25, 50, 75, 100])
    return f"min {q[0]:.2f}  q1 {q[1]:.2f}  median {q[2]:.2f}  q3 {q[3]:.2f}  max {q[4]:.2f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=15, help="runs per variant")
    ap.add_argument("--variants", nargs="+", default=["honest", "eager", "numpy_inside"])
    ap.add_argument("--busy", type=int, default=0, help="busy loops to start beside the runs")
    ap.add_argument("--rows", type=int, nargs=2, help="row range of the chain's shape (default: _speed.py's)")
    ap.add_argument("--cols", type=int, nargs=2, help="column range of the chain's shape")
    ap.add_argument("--per", type=int, help="calls per timed request")
    ap.add_argument("--requests", type=int, help="timed requests per run")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--one-reference-kernel", action="store_true",
                    help="time both references in one kernel (the grader gives each its own on a CPU)")
    ap.add_argument("--kernel-per-reference", action="store_true", help=argparse.SUPPRESS)  # the default
    ap.add_argument("--json", type=Path)
    ap.add_argument("--analyze", type=Path, nargs="+", help="print the summary of earlier --json files, run nothing")
    args = ap.parse_args(argv)
    speed = load_helper(SPEED)
    if args.analyze:
        rows = [r for path in args.analyze for r in json.loads(path.read_text())["rows"]]
        summary(speed, rows, list(dict.fromkeys(r["variant"] for r in rows)))
        return 0
    if args.rows:
        speed.CHAIN_ROWS = tuple(args.rows)
    if args.cols:
        speed.CHAIN_COLS = tuple(args.cols)
    per = args.per or speed.calls_per_request("chain")
    requests = args.requests or speed.chain_requests()
    limits = Limits.from_pyproject(REPO / "pyproject.toml")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # the busy loops are stopped on a kill too
    busy = [subprocess.Popen([sys.executable, "-c", "while 1: pass"]) for _ in range(args.busy)]
    rows: list[dict[str, Any]] = []
    try:
        with ReferenceKernel(STUDENT_SOURCE, limits=limits) as kernel, \
                ReferenceKernel(speed.REFERENCE_SOURCE, limits=limits) as one, \
                ReferenceKernel(speed.REFERENCE_SOURCE, limits=limits) as other:
            student = kernel.student()
            refs: Any = one if args.one_reference_kernel else {"eager": one, "jit": other}
            for k in {id(r): r for r in (refs.values() if isinstance(refs, dict) else [refs])}.values():
                k.student()
            print(f"sandboxed: student {kernel.sandboxed}, references {one.sandboxed}"
                  f"{' (one kernel for both)' if args.one_reference_kernel else ' (a kernel each)'};"
                  f" busy loops {args.busy};"
                  f" rows {speed.CHAIN_ROWS} cols {speed.CHAIN_COLS}, {requests} requests of {per} calls;"
                  f" lines: gap >= {speed.CPU_MIN_GAP}, position < {speed.CPU_MAX_POSITION}", flush=True)
            for r in range(args.runs):
                for name in args.variants:
                    rng = np.random.default_rng([args.seed, r, len(rows)])
                    row = _one_run(speed, student, refs, name, rng, speed.chain_shape(rng), per, requests)
                    row["run"] = r
                    rows.append(row)
                    print(f"{name:>13} run {r:2d}: gap {row['gap']:.2f}  position {row['position']:+.2f}  speedup"
                          f" {row['speedup']:.2f}  x jit {row['x_jit']:.2f}  (student {row['student_ms']:.2f} ms,"
                          f" eager {row['eager_ms']:.2f}, jit {row['jit_ms']:.2f}, noise {row['noise_ms']:.2f})"
                          f"  {row['seconds']:.1f} s  load {row['load']:.2f}  {row['verdict']}", flush=True)
    finally:
        for p in busy:
            p.kill()
            p.wait()
    print()
    summary(speed, rows, args.variants)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"args": {k: (str(v) if isinstance(v, Path) else v)
                                                  for k, v in vars(args).items()}, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
