"""Grader-side reference for 03_resnet: the torch model (``_torch_resnet.py``, the notebook's locked cell),
its randomizer, the NNX-path <-> torch-name map of the fixed interface, fingerprints, and functional
torch blocks used to name the likely cause of a divergence. Not a check module (not ``test_*.py``)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from pt2jax.checks import StudentArray, fail, load_helper

torch.set_num_threads(1)  # the student's kernel shares the 2 cores


_torch_resnet = load_helper(Path(__file__).with_name("_torch_resnet.py"))
TorchBasicBlock = _torch_resnet.TorchBasicBlock
TorchResNet18 = _torch_resnet.TorchResNet18


@torch.no_grad()
def randomize_(module, seed):
    """Fill every parameter and BatchNorm buffer from torch.Generator(seed), in state_dict order."""
    g = torch.Generator().manual_seed(seed)
    for name, t in module.state_dict().items():
        if name.endswith("num_batches_tracked"):
            t.fill_(int(torch.randint(1, 1000, (), generator=g)))
        elif name.endswith("running_var"):
            t.copy_(torch.rand(t.shape, generator=g) * 1.5 + 0.05)
        elif name.endswith("running_mean") or name.endswith("bias"):
            t.copy_(torch.randn(t.shape, generator=g) * 0.2)
        elif t.ndim == 1:  # BatchNorm weight
            t.copy_(torch.rand(t.shape, generator=g) + 0.5)
        elif name == "fc.weight":
            t.copy_(torch.randn(t.shape, generator=g) * 0.1 / t.shape[1] ** 0.5)
        else:
            t.copy_(torch.randn(t.shape, generator=g) / t[0].numel() ** 0.5)
    return module


def randomized_torch_model(seed):
    return randomize_(TorchResNet18(10), seed).eval()


# ---------------------------------------------------------------------------------------------
# fingerprints: the same function as the notebook's locked `fingerprint`

def fingerprint(a: Any) -> list[float]:
    """[sum, weighted sum] of an array in float64: equal numbers in the same layout give equal prints."""
    a = np.asarray(a, dtype=np.float64).ravel()
    return [float(a.sum()), float(a @ np.cos(np.arange(a.size) * 0.7))]


def same_print(got: Any, want: list[float]) -> bool:
    if not (isinstance(got, list | tuple) and len(got) == 2 and all(isinstance(v, float) for v in got)):
        return False
    return bool(np.allclose(got, want, rtol=1e-6, atol=1e-5))


# ---------------------------------------------------------------------------------------------
# the fixed interface: NNX flat-state path <-> torch state_dict name

_BN = {"scale": "weight", "bias": "bias", "mean": "running_mean", "var": "running_var"}


def torch_name(path: str) -> str | None:
    """The torch state_dict name for an NNX path such as ``layer2/layers/0/conv3_bn3/layers/0/kernel``."""
    m = re.fullmatch(r"(?:layer(\d)/layers/(\d)/)?conv(\d)_bn\d/layers/([01])/(\w+)", path)
    if m:
        stage, block, k, which, leaf = m.groups()
        prefix = f"layer{stage}.{block}." if stage else ""
        if not stage and k != "1":
            return None
        if k == "3":
            base = prefix + ("downsample.0" if which == "0" else "downsample.1")
        else:
            base = prefix + (f"conv{k}" if which == "0" else f"bn{k}")
        if which == "0":
            return base + ".weight" if leaf == "kernel" else None
        return base + "." + _BN[leaf] if leaf in _BN else None
    if path in ("fc/kernel", "fc/bias"):
        return "fc.weight" if path.endswith("kernel") else "fc.bias"
    return None


def nnx_path(name: str) -> str:
    """Inverse of torch_name."""
    parts = name.split(".")
    leaf = parts[-1]
    if name.startswith("fc."):
        return "fc/kernel" if leaf == "weight" else "fc/bias"
    prefix = ""
    if parts[0].startswith("layer"):
        prefix = f"{parts[0]}/layers/{parts[1]}/"
        parts = parts[2:]
    if parts[0] == "downsample":
        cb, which = "conv3_bn3", parts[1]
    else:
        k = parts[0][-1]
        cb, which = f"conv{k}_bn{k}", "0" if parts[0].startswith("conv") else "1"
    if which == "0":
        return f"{prefix}{cb}/layers/0/kernel"
    inv = {v: k for k, v in _BN.items()}
    return f"{prefix}{cb}/layers/1/{inv[leaf]}"


def to_flax(name: str, t: torch.Tensor) -> np.ndarray:
    """A torch tensor in the layout of its NNX counterpart: OIHW -> HWIO, Linear (out, in) -> (in, out)."""
    a = t.detach().cpu().numpy()
    if a.ndim == 4:
        return a.transpose(2, 3, 1, 0)
    if name == "fc.weight":
        return a.T
    return a


def expected_state(model: nn.Module) -> dict[str, np.ndarray]:
    """NNX path -> expected array (flax layout) for every variable of the fixed interface."""
    return {nnx_path(k): to_flax(k, v) for k, v in model.state_dict().items()
            if not k.endswith("num_batches_tracked")}


def is_stat(path: str) -> bool:
    return path.endswith("/mean") or path.endswith("/var")


# ---------------------------------------------------------------------------------------------
# functional torch blocks with the slips PyTorch users make, to name a likely cause

def _bn(x, p, prefix, train=False, momentum=0.1):
    mean, var = p[prefix + ".running_mean"].clone(), p[prefix + ".running_var"].clone()
    return F.batch_norm(x, mean, var, p[prefix + ".weight"], p[prefix + ".bias"], train, momentum, 1e-5)


def _conv(x, w, stride, same):
    k = w.shape[-1]
    if same and stride == 2 and k == 3:
        x = F.pad(x, (0, 1, 0, 1))  # what padding="SAME" does on an even-sized stride-2 input
        return F.conv2d(x, w, stride=stride)
    return F.conv2d(x, w, stride=stride, padding=k // 2)


def torch_block(x, p, prefix, down, *, slip=None):
    """One BasicBlock in eval mode, with ``slip`` in (None, 'relu_before_add', 'missing_shortcut',
    'same_padding_stride2', 'batchnorm_train_mode', 'no_projection_bn')."""
    train = slip == "batchnorm_train_mode"
    stride = 2 if down else 1
    out = F.relu(_bn(_conv(x, p[prefix + "conv1.weight"], stride, slip == "same_padding_stride2"), p,
                     prefix + "bn1", train))
    out = _bn(_conv(out, p[prefix + "conv2.weight"], 1, False), p, prefix + "bn2", train)
    if slip == "relu_before_add":
        out = F.relu(out)
    if down:
        short = F.conv2d(x, p[prefix + "downsample.0.weight"], stride=2)
        if slip != "no_projection_bn":
            short = _bn(short, p, prefix + "downsample.1", train)
    else:
        short = x
    if slip == "missing_shortcut":
        return F.relu(out)
    return F.relu(out + short)  # relu_before_add: the tutorial's block, ReLU, add, ReLU again


BLOCK_SLIPS = ("relu_before_add", "missing_shortcut", "same_padding_stride2", "batchnorm_train_mode",
               "no_projection_bn")


def nhwc(t: torch.Tensor) -> np.ndarray:
    return t.detach().permute(0, 2, 3, 1).numpy() if t.ndim == 4 else t.detach().numpy()


def nchw(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a.transpose(0, 3, 1, 2)))


def close(got: Any, want: np.ndarray, tol: float = 1e-4) -> bool:
    """Whether student data matches a reference within ``tol`` relative to its scale (at least 1)."""
    if not (isinstance(got, StudentArray) and got.shape == tuple(want.shape)):
        return False
    scale = max(1.0, float(np.abs(want).max(initial=0.0)))
    return bool(np.all(np.abs(got.value.astype(np.float64) - want) <= tol * scale))


def likely_slip(got: Any, x: np.ndarray, p: dict[str, torch.Tensor], prefix: str, down: bool) -> str | None:
    """The slip whose torch block output matches the student's (None when none does)."""
    with torch.no_grad():
        for slip in BLOCK_SLIPS:
            if slip in ("same_padding_stride2", "no_projection_bn") and not down:
                continue
            if close(got, nhwc(torch_block(nchw(x), p, prefix, down, slip=slip))):
                return slip
    return None


def block_params(rng: np.random.Generator, cin: int, cout: int, down: bool) -> dict[str, torch.Tensor]:
    """Random torch-named parameters and statistics of one block."""
    block = TorchBasicBlock(cin, cout, down)
    return {k: v for k, v in randomize_(block, int(rng.integers(2**31))).state_dict().items()
            if not k.endswith("num_batches_tracked")}


def flax_block_params(p: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
    return {nnx_path(k): to_flax(k, v) for k, v in p.items()}


def unwrap_dict(got: Any, keys: tuple[str, ...], what: str) -> dict[str, Any]:
    if not (isinstance(got, dict) and all(k in got for k in keys)):
        fail(f"{what} should return a dict with keys {keys}; got {type(got).__name__}.")
    return got
