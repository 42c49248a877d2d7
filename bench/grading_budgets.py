"""Grading budgets for the ResNet assignments (issue 8, item 4): what one graded call costs on this CPU.

For the course's ResNet18 at 32x32 inputs and small batches, measures model init, the first call
(trace + compile + run) and the steady-state time of an eval forward and of one `nnx.jit` train
step (SGD, cross-entropy), by default WITHOUT the fastconv mitigation (a student who did not opt
in), and optionally with it. docs/budgets.md turns these into batch sizes and step counts.

Run: .venv/bin/python -m bench.grading_budgets [--batches 1 2 4 8] [--repeats 3] [--fastconv]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from jax import lax

from bench.resnet import ResNet18, jitted_train_step
from pt2jax.kit import fastconv

ROOT = Path(__file__).resolve().parents[1]


def _seconds(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    jax.block_until_ready(fn())
    return time.perf_counter() - start


def measure(batch: int, conv: Callable[..., jax.Array], repeats: int) -> dict[str, float]:
    """Seconds: init, eval first call / steady, train-step first call / steady."""
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.standard_normal((batch, 32, 32, 3)), jnp.float32)
    y = jnp.asarray(rng.integers(0, 10, batch), jnp.int32)
    start = time.perf_counter()
    model = ResNet18(10, rngs=nnx.Rngs(0), conv=conv)
    jax.block_until_ready(nnx.state(model))
    init = time.perf_counter() - start
    opt = nnx.Optimizer(model, optax.sgd(0.1, momentum=0.9), wrt=nnx.Param)

    @nnx.jit
    def forward(model: ResNet18, x: jax.Array) -> jax.Array:
        return model(x)

    train_step = jitted_train_step()

    model.eval()
    eval_first = _seconds(lambda: forward(model, x))
    eval_steady = statistics.median(_seconds(lambda: forward(model, x)) for _ in range(repeats))
    model.train()
    train_first = _seconds(lambda: train_step(model, opt, x, y))
    train_steady = statistics.median(_seconds(lambda: train_step(model, opt, x, y)) for _ in range(repeats))
    return {"init_s": init, "eval_first_s": eval_first, "eval_step_s": eval_steady,
            "train_first_s": train_first, "train_step_s": train_steady}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--fastconv", action="store_true", help="also measure with the mitigation")
    parser.add_argument("--json", type=Path, default=ROOT / "build" / "bench" / "grading_budgets.json")
    args = parser.parse_args()
    convs: dict[str, Callable[..., jax.Array]] = {"lax": lax.conv_general_dilated}
    if args.fastconv:
        convs["fastconv"] = fastconv.conv_general_dilated
    print(f"jax {jax.__version__} on {jax.default_backend()}; seconds")
    print(f"{'conv':<9} {'batch':>5} {'init':>6} {'eval 1st':>9} {'eval':>7} {'train 1st':>10} {'train':>7}")
    rows = []
    for name, conv in convs.items():
        for batch in args.batches:
            r = measure(batch, conv, args.repeats)
            rows.append({"conv": name, "batch": batch, **r})
            print(f"{name:<9} {batch:>5} {r['init_s']:6.2f} {r['eval_first_s']:9.2f} {r['eval_step_s']:7.3f} "
                  f"{r['train_first_s']:10.2f} {r['train_step_s']:7.3f}", flush=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"jax": jax.__version__, "rows": rows}, indent=1))
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
