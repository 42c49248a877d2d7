"""XLA:CPU convolution sweep: `lax.conv_general_dilated` vs the kit's slicing form vs im2col through
`lax.conv_general_dilated_patches` vs PyTorch, forward and forward+backward, side by side in one run.

Issue 8: a 3x3 512->512 convolution on a 2x2 input at batch 64 takes ~570 ms in XLA:CPU, ~5 ms as
slices + one matrix product. The sweep shows where XLA:CPU is slow (spatial size, channels, batch,
stride, kernel) and backs the threshold in `pt2jax.fastconv` (see docs/cpu_conv.md).
Times are the minimum over `--repeats` calls, the implementations interleaved call by call so that
load from other jobs hits all alike; ratios > 1 mean the first named is slower.

Run: .venv/bin/python -m bench.cpu_conv [--quick] [--spatial 1 2 4] [--channels 512] [--batches 64]
     [--strides 1 2] [--kernels 3] [--repeats 5] [--json build/bench/cpu_conv.json]
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from pt2jax.kit.fastconv import fast_path_applies, slicing_conv

ROOT = Path(__file__).resolve().parents[1]
DN = ("NHWC", "HWIO", "NHWC")
IMPLS = ("lax", "slicing", "patches", "torch")


def patches_conv(x: jax.Array, w: jax.Array, stride: int, pad: int) -> jax.Array:
    """im2col through `lax.conv_general_dilated_patches` + one matrix product (the issue's first try)."""
    kh, kw, c, o = w.shape
    p = lax.conv_general_dilated_patches(x, (kh, kw), (stride, stride), ((pad, pad), (pad, pad)),
                                         dimension_numbers=DN)
    # patches' feature axis is ordered (c, kh, kw)
    return p @ jnp.transpose(w, (2, 0, 1, 3)).reshape(c * kh * kw, o)


def _jax_fns(impl: str, stride: int, pad: int) -> tuple[Callable[..., Any], Callable[..., Any]]:
    pads = ((pad, pad), (pad, pad))
    conv: Callable[[jax.Array, jax.Array], jax.Array]
    if impl == "lax":
        def conv(x: jax.Array, w: jax.Array) -> jax.Array:
            return lax.conv_general_dilated(x, w, (stride, stride), pads, dimension_numbers=DN)
    elif impl == "slicing":
        def conv(x: jax.Array, w: jax.Array) -> jax.Array:
            return slicing_conv(x, w, (stride, stride), pads, DN)
    else:
        def conv(x: jax.Array, w: jax.Array) -> jax.Array:
            return patches_conv(x, w, stride, pad)

    def loss(x: jax.Array, w: jax.Array, g: jax.Array) -> jax.Array:
        return jnp.vdot(conv(x, w), g)

    return jax.jit(conv), jax.jit(jax.grad(loss, argnums=(0, 1)))


def _torch_fns(x: np.ndarray, w: np.ndarray, stride: int, pad: int) -> tuple[Callable[[], Any], Callable[[], Any]]:
    import torch
    import torch.nn.functional as F

    xt = torch.tensor(x.transpose(0, 3, 1, 2).copy(), requires_grad=True)
    wt = torch.tensor(w.transpose(3, 2, 0, 1).copy(), requires_grad=True)

    def fwd() -> Any:
        with torch.no_grad():
            return F.conv2d(xt, wt, stride=stride, padding=pad)

    def grad() -> Any:
        y = F.conv2d(xt, wt, stride=stride, padding=pad)
        return torch.autograd.grad(y, (xt, wt), torch.ones_like(y))

    return fwd, grad


def _timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    jax.block_until_ready(fn())
    return (time.perf_counter() - start) * 1e3


def measure(batch: int, size: int, channels: int, kernel: int, stride: int, repeats: int) -> dict[str, Any]:
    """Milliseconds per call (min over repeats) of each implementation, forward and forward+backward."""
    pad = kernel // 2
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, size, size, channels), np.float32)
    w = (rng.standard_normal((kernel, kernel, channels, channels)) / np.sqrt(kernel * kernel * channels)).astype(
        np.float32)
    xj, wj = jnp.asarray(x), jnp.asarray(w)
    calls: dict[str, tuple[Callable[[], Any], Callable[[], Any]]] = {}
    ref = None
    for impl in IMPLS:
        if impl == "torch":
            calls[impl] = _torch_fns(x, w, stride, pad)
            continue
        fwd, grad = _jax_fns(impl, stride, pad)
        y = fwd(xj, wj)
        g = jnp.ones_like(y)
        ref = y if ref is None else ref
        np.testing.assert_allclose(np.asarray(y), np.asarray(ref), atol=1e-4)
        calls[impl] = (functools.partial(fwd, xj, wj), functools.partial(grad, xj, wj, g))
    times: dict[str, dict[str, list[float]]] = {i: {"fwd": [], "grad": []} for i in IMPLS}
    for impl in IMPLS:  # warm-up: compile, first-call allocations
        for fn in calls[impl]:
            fn()
    for _ in range(repeats):
        for impl in IMPLS:
            times[impl]["fwd"].append(_timed(calls[impl][0]))
            times[impl]["grad"].append(_timed(calls[impl][1]))
    fast = fast_path_applies((batch, size, size, channels), (kernel, kernel, channels, channels), (stride, stride),
                             ((pad, pad), (pad, pad)), dimension_numbers=DN)
    return {"batch": batch, "size": size, "channels": channels, "kernel": kernel, "stride": stride,
            "kit_takes_fast_path": fast,
            "ms": {impl: {k: min(v) for k, v in t.items()} for impl, t in times.items()}}


def _row(r: dict[str, Any]) -> str:
    ms = r["ms"]
    cells = [f"{r['batch']:>5} {r['size']:>4} {r['channels']:>5} {r['kernel']:>2} {r['stride']:>2}"]
    for part in ("fwd", "grad"):
        lax_ms, slc, pat, tor = (ms[i][part] for i in IMPLS)
        cells.append(f"{lax_ms:9.1f} {slc:7.1f} {pat:7.1f} {tor:7.1f} {lax_ms / slc:7.1f}x {slc / tor:6.2f}x")
    kit = ms["slicing" if r["kit_takes_fast_path"] else "lax"]["grad"]
    cells.append(f"{'slicing' if r['kit_takes_fast_path'] else 'lax':>7} {kit / ms['torch']['grad']:6.2f}x")
    return " | ".join(cells)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="spatial 1 2 3 4 8, 512 channels, batch 64")
    parser.add_argument("--spatial", type=int, nargs="+", default=list(range(1, 9)))
    parser.add_argument("--channels", type=int, nargs="+", default=[64, 256, 512])
    parser.add_argument("--batches", type=int, nargs="+", default=[8, 64])
    parser.add_argument("--strides", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--kernels", type=int, nargs="+", default=[3, 1])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path, default=ROOT / "build" / "bench" / "cpu_conv.json")
    args = parser.parse_args()
    if args.quick:
        args.spatial, args.channels, args.batches, args.kernels = [1, 2, 3, 4, 8], [512], [64], [3]
    try:
        import torch
        torch_version = str(torch.__version__)
    except ImportError:  # the sweep still runs; torch columns fail loudly below
        torch_version = "n/a"
    print(f"jax {jax.__version__}, jaxlib {getattr(jax.lib, '__version__', '?')}, torch {torch_version}, "
          f"backend {jax.default_backend()}, {platform.processor() or platform.machine()}")
    print("ms per call, min over repeats; fwd = forward only; grad = forward + backward w.r.t. input and kernel")
    head = "  lax ms  slc ms  pat ms  torch  lax/slc  slc/torch"
    print(f"{'batch':>5} {'size':>4} {'chan':>5} {'k':>2} {'s':>2} | fwd:{head} | grad:{head} | kit  kit/torch")
    rows = []
    grid = itertools.product(args.batches, args.channels, args.kernels, args.strides, args.spatial)
    for batch, channels, kernel, stride, size in grid:
        if size + 2 * (kernel // 2) < kernel:
            continue
        r = measure(batch, size, channels, kernel, stride, args.repeats)
        rows.append(r)
        print(_row(r), flush=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"jax": jax.__version__, "torch": torch_version, "rows": rows}, indent=1))
    print(f"wrote {args.json.relative_to(ROOT) if args.json.is_relative_to(ROOT) else args.json}")


if __name__ == "__main__":
    main()
