"""Eager JAX vs `jax.jit` vs torch eager vs `torch.compile` on 05_jit's two chains, in one run (issue 15).

* the elementwise chain `relu(x * y) + x` on (2500, 3000) float32: memory-bound; eager makes 8 array
  transfers, the fused program 3, so the ideal speedup on a memory-bound device is 8/3 ≈ 2.7x. The
  bound is printed beside the measured ratio, with the effective bandwidth of each variant and the
  bandwidth of a plain copy measured in the same run;
* a matmul chain `relu(x @ w1) @ w2` (x 1024x1024, w1 1024x4096, w2 4096x1024): compute-bound, where jit
  has little to fuse.

Timing as the course teaches it: the first call (trace + compile) apart, every call waited for
(`block_until_ready`, `torch.cuda.synchronize`), **fresh inputs** for every timed call (a pool of
distinct inputs, larger than the last-level cache, cycled), the median of `--repeats` calls. Variants
run in turn, in `--rounds` blocks, so load from other jobs hits all alike. On a GPU JAX and torch use
the GPU (float32 matmuls at full precision: `jax.default_matmul_precision("highest")`, TF32 off in
torch). A variant that fails (torch.compile without a compiler) is reported as n/a.

Run: .venv/bin/python -m bench.jit_speedup [--quick] [--repeats 15] [--rounds 3] [--no-compile] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import torch

CHAIN_SHAPE = (2500, 3000)
MLP_SHAPES = ((1024, 1024), (1024, 4096), (4096, 1024))
POOL = 4  # distinct input sets cycled through (4 x 60 MB: beyond any last-level cache)


def _torch_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def _sync_torch() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _jax_inputs(shapes: tuple[tuple[int, ...], ...], pool: int, seed: int) -> list[list[Any]]:
    out = []
    for p in range(pool):
        keys = jax.random.split(jax.random.key(seed + p), len(shapes))
        arrays = [jax.random.normal(k, s, jnp.float32) / (np.sqrt(s[0]) if i else 1.0)
                  for i, (k, s) in enumerate(zip(keys, shapes, strict=True))]
        out.append(jax.block_until_ready(arrays))
    return out


def _torch_inputs(jax_pool: list[list[Any]]) -> list[list[torch.Tensor]]:
    return [[torch.from_numpy(np.asarray(a)).to(_torch_device()) for a in arrays] for arrays in jax_pool]


def _time(fn: Callable[..., Any], pool: list[list[Any]], repeats: int, wait: Callable[[Any], Any]) -> list[float]:
    times = []
    for i in range(repeats):
        args = pool[i % len(pool)]
        start = time.perf_counter()
        wait(fn(*args))
        times.append(time.perf_counter() - start)
    return times


def _first(fn: Callable[..., Any], args: list[Any], wait: Callable[[Any], Any]) -> float:
    start = time.perf_counter()
    wait(fn(*args))
    return time.perf_counter() - start


def _jax_chain(x: Any, y: Any) -> Any:
    return jax.nn.relu(x * y) + x


def _jax_mlp(x: Any, w1: Any, w2: Any) -> Any:
    return jax.nn.relu(x @ w1) @ w2


def _torch_chain(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.relu(x * y) + x


def _torch_mlp(x: torch.Tensor, w1: torch.Tensor, w2: torch.Tensor) -> torch.Tensor:
    return torch.relu(x @ w1) @ w2


def _copy_bandwidth(pool: list[list[Any]], repeats: int) -> float:
    """Bytes per second of a jitted `a * 2` (one read, one write): what memory sustains here."""
    copy = jax.jit(lambda a: a * 2)
    jax.block_until_ready(copy(pool[0][0]))
    t = statistics.median(_time(copy, [[a[0]] for a in pool], repeats, jax.block_until_ready))
    return 2 * pool[0][0].nbytes / t


def run(repeats: int, rounds: int, with_compile: bool, quick: bool) -> dict[str, Any]:
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    chain_shape = (500, 600) if quick else CHAIN_SHAPE
    mlp_shapes = tuple((s[0] // 4, s[1] // 4) for s in MLP_SHAPES) if quick else MLP_SHAPES
    results: dict[str, Any] = {"machine": {"platform": platform.platform(), "jax_backend": jax.default_backend(),
                                           "jax_devices": [str(d) for d in jax.devices()],
                                           "torch_device": _torch_device(), "jax": jax.__version__,
                                           "torch": torch.__version__},
                               "repeats": repeats, "rounds": rounds}
    for case, shapes, jfn, tfn in (("chain", (chain_shape, chain_shape), _jax_chain, _torch_chain),
                                   ("mlp", mlp_shapes, _jax_mlp, _torch_mlp)):
        jpool = _jax_inputs(shapes, POOL, seed=1)
        tpool = _torch_inputs(jpool)
        variants: dict[str, tuple[Callable[..., Any], list[list[Any]], Callable[[Any], Any]]] = {
            "jax eager": (jfn, jpool, jax.block_until_ready),
            "jax.jit": (jax.jit(jfn), jpool, jax.block_until_ready),
            "torch eager": (tfn, tpool, lambda _: _sync_torch()),
        }
        if with_compile:
            variants["torch.compile"] = (torch.compile(tfn), tpool, lambda _: _sync_torch())
        firsts: dict[str, float | None] = {}
        times: dict[str, list[float]] = {k: [] for k in variants}
        with jax.default_matmul_precision("highest"):
            for name, (fn, pool, wait) in list(variants.items()):
                try:
                    firsts[name] = _first(fn, pool[0], wait)
                except Exception:  # e.g. torch.compile without a C++ compiler
                    traceback.print_exc()
                    firsts[name] = None
                    del variants[name]
            for _ in range(rounds):
                for name, (fn, pool, wait) in variants.items():
                    times[name] += _time(fn, pool, repeats, wait)
        medians = {k: statistics.median(v) if v else None for k, v in times.items()}
        entry: dict[str, Any] = {"shapes": [list(s) for s in shapes], "first_s": firsts, "median_s": medians}
        eager = medians.get("jax eager")
        entry["vs_jax_eager"] = {k: (eager / v if v and eager else None) for k, v in medians.items()}
        if case == "chain":
            nbytes = int(np.prod(chain_shape)) * 4
            entry["bytes"] = {"eager": 8 * nbytes, "fused": 3 * nbytes, "ideal_speedup": 8 / 3}
            entry["effective_gbps"] = {k: ((8 if "eager" in k else 3) * nbytes / v / 1e9 if v else None)
                                       for k, v in medians.items()}
            entry["copy_gbps"] = _copy_bandwidth(jpool, repeats) / 1e9
        results[case] = entry
    return results


def _table(results: dict[str, Any]) -> str:
    lines = [f"machine: {results['machine']['jax_backend']} {results['machine']['jax_devices'][:2]}"
             f" | torch on {results['machine']['torch_device']} | jax {results['machine']['jax']}"
             f" torch {results['machine']['torch']}"]
    for case in ("chain", "mlp"):
        entry = results[case]
        lines.append(f"\n{case} {entry['shapes']}")
        lines.append("| variant | first call s | median ms | vs jax eager |" +
                     (" effective GB/s |" if case == "chain" else ""))
        lines.append("| --- | ---: | ---: | ---: |" + (" ---: |" if case == "chain" else ""))
        for name, med in entry["median_s"].items():
            first = entry["first_s"].get(name)
            ratio = entry["vs_jax_eager"].get(name)
            known = med is not None and first is not None
            row = (f"| {name} | {first:.3f} | {med * 1e3:.2f} | {ratio:.2f}x |" if known
                   else f"| {name} | n/a | n/a | n/a |")
            if case == "chain":
                gbps = entry["effective_gbps"].get(name)
                row += f" {gbps:.1f} |" if gbps else " n/a |"
            lines.append(row)
        if case == "chain":
            b = entry["bytes"]
            lines.append(f"bytes: eager {b['eager'] / 1e6:.0f} MB, fused {b['fused'] / 1e6:.0f}"
                         f" MB: ideal speedup on a memory-bound device {entry['bytes']['ideal_speedup']:.2f}x;"
                         f" copy bandwidth measured here {entry['copy_gbps']:.1f} GB/s")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="small shapes, for a smoke run")
    parser.add_argument("--no-compile", action="store_true", help="skip torch.compile (its first call is slow)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    results = run(args.repeats, args.rounds, not args.no_compile, args.quick)
    print(_table(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
