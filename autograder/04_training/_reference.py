"""Grader-side reference for 04_training: the torch model and its randomizer (Assignment 03's, loaded from
``_reference03.py``, a link to ``autograder/03_resnet/_reference.py``), the torch AdamW step the notebook's
locked cells show (the same code: tests/test_assignments.py compares them), the stand-in data read
with torchvision, and comparisons shared by the check modules. Not a check module (not ``test_*.py``)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from pt2jax.checks import StudentArray, StudentRaised, fail, load_helper
from pt2jax.kit import cifar

ref03 = load_helper(Path(__file__).with_name("_reference03.py"))
randomized_torch_model = ref03.randomized_torch_model
fingerprint = ref03.fingerprint
nnx_path = ref03.nnx_path
to_flax = ref03.to_flax

torch.set_num_threads(1)  # the student's kernel shares the 2 cores

CIFAR_MEAN = np.array((0.4914, 0.4822, 0.4465), np.float32)
CIFAR_STD = np.array((0.2470, 0.2435, 0.2616), np.float32)


# ---------------------------------------------------------------------------------------------
# the notebook's torch loop (same code as its locked cells)

def torch_train_step(model, optimizer, scheduler, images, labels):
    """One PyTorch step on NCHW images: the loop body you know."""
    model.train()
    optimizer.zero_grad()
    loss = F.cross_entropy(model(images), labels)
    loss.backward()
    optimizer.step()
    scheduler.step()   # per *step* here, to match an Optax schedule
    return loss.item()


def torch_adamw(model, peak_lr, warmup_steps, total_steps, weight_decay):
    """torch's AdamW with the same schedule (LambdaLR, stepped every step) and the same decay mask."""
    groups = [{"params": [p for p in model.parameters() if p.ndim > 1], "weight_decay": weight_decay},
              {"params": [p for p in model.parameters() if p.ndim <= 1], "weight_decay": 0.0}]
    optimizer = torch.optim.AdamW(groups, lr=peak_lr, betas=(0.9, 0.999), eps=1e-8)
    def factor(step):
        if step < warmup_steps:
            return 0.1 + 0.9 * step / warmup_steps
        progress = min(step - warmup_steps, total_steps - warmup_steps) / (total_steps - warmup_steps)
        return 0.5 * (1 + np.cos(np.pi * progress))
    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def schedule(step: int, peak_lr: float, warmup_steps: int, total_steps: int) -> float:
    """The specified schedule: linear 0.1 * peak -> peak over warmup_steps, cosine to 0 at total_steps."""
    if step < warmup_steps:
        return peak_lr * (0.1 + 0.9 * step / warmup_steps)
    progress = min(step - warmup_steps, total_steps - warmup_steps) / (total_steps - warmup_steps)
    return peak_lr * 0.5 * (1 + np.cos(np.pi * progress))


def is_decayed(path: str) -> bool:
    """Kernels are decayed; BatchNorm scales and biases and the linear bias are not."""
    return path.endswith("/kernel")


def bn_sizes(model: nn.Module, x: torch.Tensor) -> dict[str, int]:
    """torch BatchNorm name -> values per channel (N * H * W) for input ``x``."""
    sizes: dict[str, int] = {}
    hooks = [m.register_forward_hook(lambda mod, inp, out, name=name: sizes.__setitem__(
        name, inp[0].shape[0] * inp[0].shape[2] * inp[0].shape[3]))
        for name, m in model.named_modules() if isinstance(m, nn.BatchNorm2d)]
    with torch.no_grad():
        model.eval()(x)
    for h in hooks:
        h.remove()
    return sizes


def probe_positions(seed, shapes):
    """The positions (flat indices) of each parameter the grader compares, drawn from `seed`."""
    rng = np.random.default_rng(seed)
    return {path: rng.choice(int(np.prod(shape)), size=min(64, int(np.prod(shape))), replace=False)
            for path, shape in sorted(shapes.items())}


def torch_run(seed: int, batches: list[tuple[np.ndarray, np.ndarray]], peak_lr: float, warmup: int, total: int,
              wd: float, dtype: torch.dtype = torch.float32) -> list[dict[str, Any]]:
    """torch's steps on NHWC batches: per step the loss, every parameter's change (Flax layout, float64,
    by NNX path) and the BatchNorm statistics Flax should hold (torch's unbiased running_var converted).
    With ``dtype=torch.float64`` the same steps in double precision: how far float32 itself strays."""
    model = randomized_torch_model(seed).to(dtype)
    n = bn_sizes(model, torch.from_numpy(np.ascontiguousarray(batches[0][0].transpose(0, 3, 1, 2))).to(dtype))
    params0 = {k: to_flax(k, v).astype(np.float64) for k, v in model.named_parameters()}
    flax_stats = {k: to_flax(k, v).astype(np.float64) for k, v in model.state_dict().items() if "running" in k}
    optimizer, scheduler = torch_adamw(model, peak_lr, warmup, total, wd)
    out = []
    for images, labels in batches:
        old = {k: v.detach().numpy().astype(np.float64) for k, v in model.state_dict().items() if "running" in k}
        x = torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2))).to(dtype)
        loss = torch_train_step(model, optimizer, scheduler, x, torch.from_numpy(labels.astype(np.int64)))
        sd = model.state_dict()
        for k in flax_stats:
            new = sd[k].detach().numpy().astype(np.float64)
            if k.endswith("running_var"):
                count = n[k.rsplit(".", 1)[0]]
                batch_biased = (new - 0.9 * old[k]) / 0.1 * (count - 1) / count
                flax_stats[k] = 0.9 * flax_stats[k] + 0.1 * batch_biased
            else:
                flax_stats[k] = new
        out.append({
            "loss": loss,
            "grad": {nnx_path(k): to_flax(k, v.grad).astype(np.float64) for k, v in model.named_parameters()},
            "delta": {nnx_path(k): to_flax(k, v).astype(np.float64) - params0[k] for k, v in model.named_parameters()},
            "stats": {nnx_path(k): v.copy() for k, v in flax_stats.items()},
        })
    return out


# ---------------------------------------------------------------------------------------------
# the stand-in, as the grader reads it

_STANDIN: dict[str, Any] = {}


def standin() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(train images, train labels, test images, test labels) of the stand-in, uint8 NHWC, via torchvision."""
    if not _STANDIN:
        root = cifar.write_standin(tempfile.mkdtemp(prefix="pt2jax-standin-"))
        train = cifar.StandInCIFAR10(root, train=True)
        test = cifar.StandInCIFAR10(root, train=False)
        _STANDIN.update(data=(train.data, np.array(train.targets), test.data, np.array(test.targets)))
    return _STANDIN["data"]


def normalize(images: np.ndarray) -> np.ndarray:
    """uint8 NHWC -> the specified float32 normalization, NHWC."""
    return ((images.astype(np.float32) / np.float32(255) - CIFAR_MEAN) / CIFAR_STD).astype(np.float32)


def augmentations(image: np.ndarray) -> np.ndarray:
    """Every pad-4 random crop and flip of one uint8 HWC image, normalized: (162 * 2, H, W, C) float32
    (zero padding in pixel values, and zero padding of the normalized image: both conventions)."""
    out = []
    for base in (normalize(image[None])[0], None):
        if base is None:  # pad the uint8 image with zeros, then normalize
            padded = normalize(np.pad(image, ((4, 4), (4, 4), (0, 0)))[None])[0]
        else:
            padded = np.pad(base, ((4, 4), (4, 4), (0, 0)))
        for i in range(9):
            for j in range(9):
                crop = padded[i:i + 32, j:j + 32]
                out.extend([crop, crop[:, ::-1]])
    return np.stack(out)


# ---------------------------------------------------------------------------------------------
# comparisons

def unwrap_dict(got: Any, keys: tuple[str, ...], what: str) -> dict[str, Any]:
    if not (isinstance(got, dict) and all(k in got for k in keys)):
        fail(f"{what} should return a dict with keys {keys}; got {type(got).__name__}.")
    return got


def array_of(got: Any, what: str) -> np.ndarray:
    """The numpy value of a student array (float64), failing with a message otherwise."""
    if not isinstance(got, StudentArray):
        fail(f"{what} should be an array; got {type(got).__name__}.")
    return got.value.astype(np.float64)


def is_print(got: Any) -> bool:
    return isinstance(got, list) and len(got) == 2 and all(isinstance(v, float) for v in got)


def print_close(got: Any, want: np.ndarray, rel: float, slack: float = 0.0) -> bool:
    """Fingerprints of ``got`` and of the reference array ``want`` agree within ``rel`` of the sums of |want|
    (plus ``slack``: a bound on how far float32 rounding alone may move them)."""
    if not is_print(got):
        return False
    w = np.asarray(want, np.float64).ravel()
    scale = float(np.abs(w).sum()) + 1e-12
    return bool(np.all(np.abs(np.array(got) - np.array(fingerprint(w))) <= rel * scale + slack + 1e-9))


def raised(exc: StudentRaised) -> str:
    return f"{exc.exc_type}: {exc.message[:300]}"
