"""ResNet18 (CIFAR, 32x32) train step: JAX `nnx.jit` with `lax.conv_general_dilated` and with the kit's
`pt2jax.fastconv`, PyTorch eager and `torch.compile`, side by side in one run (issue 8).

Gate on the 2-core CPU: JAX with fastconv at most 2x PyTorch eager's step time at batch 64 (stretch
1.5x, then 1.0x). Steady-state step times are the median of `--repeats` steps, taken in `--rounds`
blocks per variant in turn (so that load from other jobs hits all alike); the first call (trace +
compile + one step) is reported apart. Each variant runs in its own process. Runs on any machine:
no version checks; on a GPU JAX uses the GPU and torch uses CUDA if it has it; a variant that
fails (torch.compile without a compiler) is reported as n/a.

Assignment 04's step (issue 14): `04:jax`, `04:jax+fastconv` run the 04 solution's own `train_step`
(AdamW with the warmup-cosine schedule and masked decay, `nnx.MultiMetric` updated inside the step; code
read from solutions/04_training/04_training.ipynb), `04:torch` the notebook's PyTorch loop step
(`torch_train_step`: AdamW with parameter groups, LambdaLR stepped per step, `loss.item()`).

Run: .venv/bin/python -m bench.train_step [--quick] [--batches 8 64] [--repeats 10] [--rounds 2]
     [--optimizer sgd|adam] [--threads 1] [--variants jax jax+fastconv torch torch.compile 04:jax ...]
     [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import statistics
import sys
import time
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from jax import lax

from bench.resnet import ResNet18, jitted_train_step, torch_resnet18
from pt2jax.kit import fastconv

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = ("jax", "jax+fastconv", "torch", "torch.compile", "04:jax", "04:jax+fastconv", "04:torch")
NOTEBOOK_04 = ROOT / "solutions" / "04_training" / "04_training.ipynb"
NUM_CLASSES = 10


def _data(batch: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return (rng.standard_normal((batch, 32, 32, 3), np.float32),
            rng.integers(0, NUM_CLASSES, batch).astype(np.int32))


def _tx(name: str) -> optax.GradientTransformation:
    return optax.adam(1e-3) if name == "adam" else optax.sgd(0.1, momentum=0.9)


def jax_step(batch: int, optimizer: str, conv: Callable[..., jax.Array]) -> Callable[[], Any]:
    """One `nnx.jit` train step of the NNX ResNet18 built with `conv`, as a no-argument callable."""
    model = ResNet18(NUM_CLASSES, rngs=nnx.Rngs(0), conv=conv)
    opt = nnx.Optimizer(model, _tx(optimizer), wrt=nnx.Param)
    x_np, y_np = _data(batch)
    x, y = jnp.asarray(x_np), jnp.asarray(y_np)

    train_step = jitted_train_step()

    model.train()
    return lambda: jax.block_until_ready(train_step(model, opt, x, y))


def torch_step(batch: int, optimizer: str, compiled: bool) -> Callable[[], Any]:
    """One PyTorch train step (eager or `torch.compile`), as a no-argument callable."""
    import torch

    cuda = jax.default_backend() == "gpu" and torch.cuda.is_available()
    device = "cuda" if cuda else "cpu"
    torch.manual_seed(0)
    model = torch_resnet18(NUM_CLASSES).to(device).train()
    opt = (torch.optim.Adam(model.parameters(), 1e-3) if optimizer == "adam"
           else torch.optim.SGD(model.parameters(), 0.1, momentum=0.9))
    x_np, y_np = _data(batch)
    x = torch.tensor(x_np.transpose(0, 3, 1, 2).copy(), device=device)
    y = torch.tensor(y_np, dtype=torch.long, device=device)
    forward = torch.compile(model) if compiled else model

    def step() -> float:
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(forward(x), y)
        loss.backward()
        opt.step()
        if cuda:
            torch.cuda.synchronize()
        return float(loss.detach())

    return step


def _notebook_04(fast: bool) -> dict[str, Any]:
    """The 04 solution's model, optimizer and step (and its torch loop), executed from its notebook: the
    locked model cell, the answers of Exercises 2 and 3, the definitions of the PyTorch cell."""
    import ast

    import nbformat

    if not NOTEBOOK_04.exists():  # 04 is a draft: its solutions/ are built, not committed
        sys.exit(f"{NOTEBOOK_04} is missing: run `.venv/bin/pt2jax build 04_training` first")
    sys.path.insert(0, str(NOTEBOOK_04.parent))  # pt2jax_fastconv.py etc. beside the notebook
    ns: dict[str, Any] = {"__name__": "nb04"}
    exec("import os, time, tempfile, numpy as np, jax, jax.numpy as jnp, optax, torch\n"
         "import torch.nn as nn, torch.nn.functional as F\nfrom flax import nnx\n"
         "from pt2jax_fastconv import conv_general_dilated as fast_conv\n"
         f"USE_FAST_CONV = {fast}", ns)
    for cell in nbformat.read(NOTEBOOK_04, as_version=4).cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in ("model", "ex02_optimizer", "ex03_train_step", "ex03_torch"):
            tree = ast.parse(cell.source)
            tree.body = [n for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef | ast.Assign)
                         and not (gid == "ex03_torch" and isinstance(n, ast.Assign))]
            exec(compile(tree, gid, "exec"), ns)
    return ns


def step_04(batch: int, variant: str) -> Callable[[], Any]:
    """One step of assignment 04's training loop: its JAX train_step or its PyTorch loop step."""
    nb = _notebook_04(fast=variant == "04:jax+fastconv")
    x_np, y_np = _data(batch)
    if variant == "04:torch":
        import torch

        torch.manual_seed(0)
        model = nb["TorchResNet18"](NUM_CLASSES)
        opt, sched = nb["torch_adamw"](model, 1e-3, 10, 10_000, 5e-4)
        x = torch.tensor(x_np.transpose(0, 3, 1, 2).copy())
        y = torch.tensor(y_np, dtype=torch.long)
        return lambda: nb["torch_train_step"](model, opt, sched, x, y)  # .item(): waits for the step
    model = nb["ResNet18"](NUM_CLASSES, rngs=nnx.Rngs(0))
    opt = nb["make_optimizer"](model, 1e-3, 10, 10_000, 5e-4)
    metrics = nb["make_metrics"]()
    x, y = jnp.asarray(x_np), jnp.asarray(y_np)
    model.train()
    return lambda: jax.block_until_ready(nb["train_step"](model, opt, metrics, x, y))


def _build(variant: str, batch: int, optimizer: str) -> Callable[[], Any]:
    if variant.startswith("04:"):
        return step_04(batch, variant)
    if variant == "jax":
        return jax_step(batch, optimizer, lax.conv_general_dilated)
    if variant == "jax+fastconv":
        return jax_step(batch, optimizer, fastconv.conv_general_dilated)
    return torch_step(batch, optimizer, compiled=variant == "torch.compile")


def _seconds(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _limit_threads(threads: int) -> None:
    """Run this process on `threads` cores (0: all); before JAX's backend starts, which sizes its pool from
    the affinity mask."""
    if threads <= 0:
        return
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:threads])
    try:
        import torch
        torch.set_num_threads(threads)
    except ImportError:
        pass


def _worker(conn: Connection, variant: str, batch: int, optimizer: str, threads: int = 0) -> None:
    """One variant in its own process: build, time the first call, then time blocks of steps on request."""
    _limit_threads(threads)
    try:
        step = _build(variant, batch, optimizer)
        first = _seconds(step)
        _seconds(step)  # second call: allocator and autotuning warm-up, not timed
        conn.send(("ok", first))
    except Exception as exc:  # a missing compiler etc. must not sink the other rows
        msg = str(exc).splitlines()[0][:160] if str(exc) else ""
        conn.send(("error", f"{type(exc).__name__}: {msg}\n{traceback.format_exc()}"))
        return
    while (count := conn.recv()) > 0:
        step()  # untimed: caches and thread pools after the other variants ran
        conn.send([_seconds(step) for _ in range(count)])


def run(batch: int, variants: list[str], optimizer: str, repeats: int, rounds: int = 2,
        pause_s: float = 0.5, verbose: bool = False, threads: int = 0) -> dict[str, dict[str, float | None]]:
    """First-call seconds and median steady step seconds per variant (None where a variant failed).

    Each variant lives in its own process (as it would for a student): with all of them in one
    process, timings on the 2-core box were erratic (torch eager up to 30x slower next to JAX and
    Inductor). The processes run blocks of consecutive steps in turn, with a pause
    between blocks, so that drift and load from other jobs hit all variants alike.
    """
    ctx = mp.get_context("spawn")
    workers: dict[str, tuple[Any, Connection]] = {}
    result: dict[str, dict[str, float | None]] = {}
    try:
        for variant in variants:
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_worker, args=(child, variant, batch, optimizer, threads),
                               daemon=True)
            proc.start()
            status, payload = parent.recv()  # built one at a time: compile times do not overlap
            if status == "ok":
                workers[variant] = (proc, parent)
                result[variant] = {"first_call_s": payload}
            else:
                print(f"  {variant}: n/a ({payload if verbose else payload.splitlines()[0]})", file=sys.stderr)
                result[variant] = {"first_call_s": None, "step_s": None}
                proc.join()
        times: dict[str, list[float]] = {v: [] for v in workers}
        per_block = max(1, -(-repeats // rounds))
        for _ in range(rounds):
            for variant, (_, conn) in workers.items():
                time.sleep(pause_s)
                conn.send(per_block)
                times[variant].extend(conn.recv())
        for variant, ts in times.items():
            result[variant]["step_s"] = statistics.median(ts)
    finally:
        for proc, conn in workers.values():
            conn.send(0)
            proc.join(timeout=30)
    return result


def _fmt(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="batch 8 only, 3 repeats, no torch.compile")
    parser.add_argument("--batches", type=int, nargs="+", default=[8, 64])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2, help="blocks per variant the repeats are split into")
    parser.add_argument("--optimizer", choices=("sgd", "adam"), default="sgd")
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    parser.add_argument("--json", type=Path, default=ROOT / "build" / "bench" / "train_step.json")
    parser.add_argument("--threads", type=int, default=0,
                        help="pin each variant to this many cores, torch threads alike (1: robust to load); 0: all")
    parser.add_argument("--verbose", action="store_true", help="tracebacks of failing variants")
    args = parser.parse_args()
    if args.quick:
        args.batches, args.repeats = [8], 3
        args.variants = [v for v in args.variants if v != "torch.compile"]
    try:
        import torch
        torch_info = f"torch {torch.__version__} ({torch.get_num_threads()} threads)"
    except ImportError:
        torch_info = "torch n/a"
        args.variants = [v for v in args.variants if not v.startswith("torch")]
    print(f"jax {jax.__version__} on {jax.default_backend()} ({jax.devices()[0].device_kind}), {torch_info}, "
          f"Python {platform.python_version()}, optimizer {args.optimizer}, "
          f"threads {args.threads or 'default'}")
    print(f"{'batch':>5} {'variant':<16} {'first call s':>12} {'step ms':>9} {'vs torch eager':>15}")
    report: dict[str, Any] = {"jax": jax.__version__, "torch": torch_info, "optimizer": args.optimizer,
                              "threads": args.threads, "rows": []}
    for batch in args.batches:
        result = run(batch, args.variants, args.optimizer, args.repeats, args.rounds, verbose=args.verbose,
                     threads=args.threads)
        for variant, r in result.items():
            base = result.get("04:torch" if variant.startswith("04:") else "torch", {}).get("step_s")
            step = r.get("step_s")
            ratio = None if step is None or base is None else step / base
            shown = "n/a" if ratio is None else f"{ratio:.2f}x"
            print(f"{batch:>5} {variant:<16} {_fmt(r.get('first_call_s'), '12.1f')} "
                  f"{_fmt(None if step is None else step * 1e3, '9.1f')} {shown:>15}", flush=True)
            report["rows"].append({"batch": batch, "variant": variant, **r, "vs_torch_eager": ratio})
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=1))
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
