# Generated from src/pt2jax/kit/check.py by `pt2jax build`: do not edit.
"""Self-checks and teaching feedback shared by the student's notebook and the grader.

This file is shipped verbatim beside every released notebook as ``pt2jax_check.py`` (by
``pt2jax build``), so it imports nothing from pt2jax and only numpy at module level. The grader
builds its feedback with the same functions, so a visible self-check and a hidden check that
fail for the same reason say the same thing.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "MISCONCEPTIONS",
    "ArrayFacts",
    "SelfCheckFailed",
    "check",
    "check_array",
    "check_environment",
    "compare_arrays",
    "explain_errors",
    "extra_hints",
    "facts_of",
    "full_traceback",
    "hint_text",
    "hints_for_exception",
]

# id -> (short title, explanation for a PyTorch user)
MISCONCEPTIONS: dict[str, tuple[str, str]] = {
    "int64_default": (
        "torch's int64/float64 habit",
        "torch.tensor([1, 2]) is int64, but JAX's default integer is int32 (and float32 for floats)."
        " Let JAX pick its default dtype, or ask for int32/float32 explicitly; 64-bit types only"
        " exist inside a scoped x64 block.",
    ),
    "x64_not_enabled": (
        "a 64-bit dtype asked for outside an x64 block",
        "Outside `with jax.enable_x64(True):` JAX narrows int64/float64 requests to int32/float32 (with"
        " at most a warning), so dtype=jnp.int64 alone gives int32 and a large sum wraps around. Do the"
        " whole computation inside the block: there the result keeps its 64-bit dtype.",
    ),
    "x64_global": (
        "x64 switched on globally",
        "jax.config.update('jax_enable_x64', True) changes every array made afterwards, in the whole"
        " program. Use the scoped context manager so 64-bit types stay where you asked for them.",
    ),
    "reused_key": (
        "a PRNG key used twice",
        "There is no global seed as with torch.manual_seed: the same key always gives the same"
        " numbers. Split (or fold_in) the key and use every subkey once.",
    ),
    "inplace_update": (
        "an in-place update",
        "jax.Arrays are immutable: x[i] = v raises TypeError. Write x = x.at[i].set(v)"
        " (or .add, .multiply, ...) which returns a new array.",
    ),
    "accumulate_duplicates": (
        "duplicate indices in a scatter",
        "x.at[idx].set(v) keeps one value per repeated index; to sum contributions like torch's"
        " index_put_(..., accumulate=True) use x.at[idx].add(v).",
    ),
    "dim_vs_axis": (
        "dim= instead of axis=",
        "jax.numpy follows NumPy: reductions, concatenate and stack take axis=, not dim=."
        " The result's layout depends on which axis you name.",
    ),
    "keepdim": (
        "keepdim instead of keepdims",
        "NumPy-style functions spell it keepdims=True; without it the reduced axis disappears and"
        " the shape differs from torch's keepdim=True result.",
    ),
    "torch_max_tuple": (
        "torch.max(x, dim) returns (values, indices)",
        "jnp.max returns only the values; get the indices with jnp.argmax on the same axis.",
    ),
    "out_of_bounds": (
        "out-of-bounds indices",
        "torch raises IndexError, but JAX clamps out-of-bounds gathers to the last element and"
        " silently drops out-of-bounds scatters. Check indices yourself, or use"
        " jnp.take(..., mode='fill', fill_value=...) / .at[...].get(mode='fill', ...).",
    ),
    "numpy_not_jax": (
        "a NumPy array where a jax.Array was expected",
        "np.* functions return host NumPy arrays; use jnp.* (or jnp.asarray) to get a jax.Array.",
    ),
    "torch_not_jax": (
        "a torch.Tensor where a jax.Array was expected",
        "Convert with jnp.asarray(t) (a copy) or jax.dlpack.from_dlpack(t) (zero-copy where"
        " possible); tensors with requires_grad=True need .detach() first.",
    ),
    "jax_not_torch": (
        "a jax.Array where a torch.Tensor was expected",
        "Convert with torch.from_dlpack(a) (zero-copy where possible) or torch.asarray(np.asarray(a)).",
    ),
    "committed_device": (
        "committed vs uncommitted arrays",
        "An array placed with jax.device_put(x, device) is committed to that device; operations"
        " between arrays committed to different devices raise. Uncommitted arrays follow"
        " their committed partners.",
    ),
    "item_host_sync": (
        ".item() and host transfers",
        "x.item() returns a Python number and waits for the device; np.asarray(x) or"
        " jax.device_get(x) copy the whole array to the host.",
    ),
    "python_scalar": (
        "a Python number where an array was expected (or the reverse)",
        "x.item() and float(x) leave JAX; keep a jax.Array while you compute and convert at the end"
        " only when a Python number is asked for.",
    ),
    "nchw_nhwc": (
        "channels-first vs channels-last",
        "torch images are NCHW; Flax convolutions expect NHWC. Transpose with"
        " x.transpose(0, 2, 3, 1).",
    ),
    "block_until_ready": (
        "timing without block_until_ready",
        "JAX dispatches work asynchronously: call .block_until_ready() on the result before"
        " stopping the clock.",
    ),
    "not_jitted": (
        "function not jitted",
        "Wrap the function with jax.jit (or nnx.jit) and call the compiled version.",
    ),
    "torch_methods": (
        "a torch-only Tensor method",
        "jax.Array has no .numel(), .dim(), .size() (as a call), .clone() or in-place *_ methods:"
        " use x.size / x.ndim / x.shape, and functions from jax.numpy.",
    ),
    "python_list_index": (
        "indexing with a Python list",
        "x[[0, 2]] is refused by JAX (a list is ambiguous there); index with an array:"
        " x[jnp.array([0, 2])], or a tuple for several axes.",
    ),
    "elementwise_matmul": (
        "* where @ was meant",
        "x * y is the elementwise product in JAX as in torch; the matrix product is x @ y"
        " (jnp.matmul).",
    ),
    "batchnorm_train_mode": (
        "BatchNorm left in training mode",
        "Call model.eval() before evaluating (and model.train() before training), as in torch.",
    ),
    "backward_mutation": (
        ".backward() and .grad",
        "A jax.Array has no .backward(), .grad or requires_grad, and nothing is recorded while you"
        " compute. jax.grad(f) returns a function that returns the gradients: keep its result"
        " (grads = jax.grad(loss)(params, ...)) and build new parameters from it; nothing is"
        " updated in place, so an update you compute and do not keep changes nothing.",
    ),
    "accumulated_grads": (
        "expecting gradients to accumulate",
        "torch adds every backward() into .grad until zero_grad(); jax.grad returns fresh gradients"
        " on every call and adds them to nothing. To accumulate over micro-batches, add the gradient"
        " trees yourself (jax.tree.map(jnp.add, total, grads)); a training step uses the gradient of"
        " the current parameters only.",
    ),
    "argnums": (
        "argnums forgotten",
        "jax.grad(f) differentiates with respect to f's first positional argument only. Pass"
        " argnums=2 for another single argument (one gradient back) or argnums=(0, 1) for several"
        " (a tuple of gradients back, in that order).",
    ),
    "grad_structure": (
        "gradients in another structure than the parameters",
        "jax.grad of a function of a pytree returns a pytree of the same structure (dicts stay"
        " dicts, lists stay lists). Return it as it is, and update with jax.tree.map(f, params,"
        " grads) instead of looping over jax.tree.leaves, which flattens the structure.",
    ),
    "grad_scalar_output": (
        "jax.grad of a non-scalar output",
        "jax.grad needs a function that returns one number, like torch's backward() without"
        " gradient=. Return (loss, aux) with has_aux=True for extra outputs; use jax.vjp for a"
        " vector-Jacobian product (torch: out.backward(gradient=v)), and jax.jacrev/jacfwd/hessian"
        " for full Jacobians and Hessians.",
    ),
    "int_grad": (
        "jax.grad with respect to integers",
        "jax.grad refuses integer inputs, as torch refuses requires_grad on integer tensors: convert"
        " first (x.astype(jnp.float32)). allow_int=True only returns float0 placeholders, which hold"
        " no derivative.",
    ),
    "host_in_traced": (
        "host code inside a traced function",
        "jax.jit, jax.vmap and jax.grad call your function with tracers instead of arrays. Code that"
        " needs the actual numbers (.item(), float(), a Python if on a value, NumPy functions) raises"
        " under jax.jit and jax.vmap, and torch cannot take a tracer at all. Stay in jax.numpy inside"
        " functions that JAX transforms, print with jax.debug.print, and convert to Python, NumPy or"
        " torch only outside them.",
    ),
    "vmap_in_axes": (
        "vmap without in_axes",
        "jax.vmap maps over axis 0 of every argument unless told otherwise. Give in_axes with None"
        " for the arguments every example shares (the parameters) and 0 for the batched ones, e.g."
        " in_axes=(None, None, 0, 0), as torch.func.vmap's in_dims.",
    ),
    "stop_gradient": (
        "stop_gradient is JAX's .detach()",
        "A jax.Array has no .detach(): jax.lax.stop_gradient(x) returns x's value and counts as a"
        " constant when differentiated. The straight-through trick is x + jax.lax.stop_gradient(f(x) - x).",
    ),
    "oihw_hwio": (
        "convolution kernels in torch's layout",
        "torch stores a convolution weight as (out, in, kH, kW); nnx.Conv's kernel is (kH, kW, in, out)."
        " Convert with w.transpose(2, 3, 1, 0) (and a Linear weight with .T): a reshape to the right shape"
        " keeps torch's order and scrambles the numbers without raising.",
    ),
    "same_padding_stride2": (
        "padding='SAME' is not torch's padding=1 at stride 2",
        "nnx.Conv pads 'SAME' by default. For a 3x3 kernel with stride 2 on an even-sized input, 'SAME'"
        " pads (0, 1) (one row and column, at the bottom and right) while torch's padding=1 pads (1, 1):"
        " same shape, shifted values. Pass padding=((1, 1), (1, 1)).",
    ),
    "bn_momentum": (
        "BatchNorm momentum means the opposite",
        "torch updates running = (1 - momentum) * running + momentum * batch with momentum=0.1; Flax"
        " updates running = momentum * running + (1 - momentum) * batch. torch's 0.1 is Flax's"
        " momentum=0.9 (Flax's default is 0.99).",
    ),
    "bn_epsilon": (
        "BatchNorm epsilon",
        "torch's BatchNorm2d adds eps=1e-5 to the variance; pass epsilon=1e-5 to nnx.BatchNorm explicitly"
        " (other examples use 1e-3 or 1e-6), or small variances give different outputs.",
    ),
    "bn_biased_variance": (
        "torch's running variance is unbiased",
        "To update running_var, torch uses the unbiased batch variance (divided by n - 1, n = N*H*W values"
        " per channel); Flax uses the biased one (divided by n). The outputs agree; the running variances"
        " differ by the factor n / (n - 1) on the batch part of the update.",
    ),
    "conv_kernel_int": (
        "an int kernel_size in nnx.Conv",
        "torch's nn.Conv2d(cin, cout, 3) makes a 3x3 kernel; nnx.Conv(cin, cout, 3) makes a 1-D convolution"
        " (kernel shape (3, cin, cout)). Pass the spatial size as a tuple: nnx.Conv(cin, cout, (3, 3)).",
    ),
    "relu_before_add": (
        "ReLU before the residual addition",
        "A BasicBlock adds the shortcut first and applies ReLU to the sum: relu(bn2(conv2(...)) + shortcut)."
        " A ReLU before the addition (as in some tutorials) is a different network: ported weights give"
        " different outputs.",
    ),
    "missing_shortcut": (
        "the shortcut is missing",
        "A residual block returns relu(branch + shortcut): x itself where the shape is unchanged, a 1x1"
        " stride-2 convolution followed by BatchNorm (the projection) where it changes.",
    ),
    "state_dict_vs_nnx_state": (
        "BatchNorm statistics are state too",
        "torch's state_dict() holds parameters and buffers (running_mean, running_var); the NNX"
        " counterparts are nnx.Param and nnx.BatchStat variables. nnx.state(model) has both;"
        " nnx.state(model, nnx.Param) only the parameters. Copy, save and load both kinds.",
    ),
    "compile_in_timing": (
        "compile time counted as run time",
        "The first call of a jitted function traces and compiles it (tens of milliseconds to seconds)."
        " Time that call apart and report the median of the later calls as the steady-state time.",
    ),
    "stage_inputs": (
        "profiling a stage on an input it never sees",
        "A stage's cost depends on the shape of what it receives: in a model, stage k runs on the output of"
        " stage k-1, not on the model's input or a made-up batch. Feed each stage the previous stage's output"
        " and time it there (torch's profiler sees the real activations because it watches one forward pass).",
    ),
    "recompiles": (
        "recompiling on every call",
        "jax.jit compiles once per input shape, dtype and static argument value, then reuses the program."
        " A jax.jit(...) inside the function, a new lambda on every call or a static argument that keeps"
        " changing compiles again each time: jit once, outside, and keep shapes fixed.",
    ),
    "trace_side_effect": (
        "Python side effects under jit",
        "A jitted function's Python code runs once, while it is traced: a print, a list append, a counter"
        " or time.sleep happen at trace time, not on every call. Print values with jax.debug.print and"
        " return what you need to keep.",
    ),
    "python_unrolled": (
        "a Python loop unrolled at trace time",
        "A Python for loop inside jit copies its body into the program once per step: the program and its"
        " compile time grow with the number of steps. lax.fori_loop and lax.scan keep one copy of the body.",
    ),
    "low_precision": (
        "lower precision to gain speed",
        "bfloat16 or float16 halves the bytes moved but changes results by about 1e-2 relative: compute in"
        " the dtype asked for.",
    ),
    "deferred_result": (
        "work left for after the call returns",
        "A timed function must return a finished jax.Array computed from the inputs it was given: a result"
        " remembered from an earlier call, a lazy object or an array a thread is still writing is not one.",
    ),
    "donated_input": (
        "donating an input the caller still uses",
        "jax.jit(f, donate_argnums=...) lets XLA reuse an input's memory for the output, and the caller's"
        " array is deleted. Donate only what the caller replaces anyway (a train step's old state).",
    ),
}


# (exception type, regex on its message, misconception id): hints read off a raised exception.
RAISED_HINTS: list[tuple[str, str, str]] = [
    ("TypeError", r"in-place item assignment|immutable", "inplace_update"),
    ("TypeError", r"unexpected keyword argument 'dim'", "dim_vs_axis"),
    ("TypeError", r"unexpected keyword argument 'keepdim'", "keepdim"),
    ("ValueError", r"incompatible devices", "committed_device"),
    ("ValueError", r"kernel_size must be a tuple", "conv_kernel_int"),
    ("AttributeError", r"has no attribute '(numel|dim|clone|detach|cuda|index_put_|\w+_)'", "torch_methods"),
    ("TypeError", r"'(tuple|int)' object is not callable", "torch_methods"),
    ("TypeError", r"non-tuple sequence for multidimensional indexing", "python_list_index"),
    # on a jax.Array the name is quoted; on a tracer (inside grad/jit/vmap) it is not
    ("AttributeError", r"has no attribute '?(backward|grad|requires_grad_?|grad_fn|zero_grad)\b", "backward_mutation"),
    ("AttributeError", r"has no attribute '?detach\b", "stop_gradient"),
    ("TypeError", r"Gradient only defined for scalar-output functions", "grad_scalar_output"),
    ("TypeError", r"grad requires real- or complex-valued inputs", "int_grad"),
    ("ValueError", r"vmap got inconsistent sizes for array axes to be mapped", "vmap_in_axes"),
    ("ConcretizationTypeError", r"[Tt]racer", "host_in_traced"),
    ("TracerArrayConversionError", r"__array__\(\) was called on traced array", "host_in_traced"),
    ("TracerBoolConversionError", r"[Tt]raced array", "host_in_traced"),
    ("TracerIntegerConversionError", r"[Tt]raced array", "host_in_traced"),
    ("AttributeError", r"Tracer has no attribute __", "host_in_traced"),  # torch.from_dlpack(tracer)
]


def hints_for_exception(exc_type: str, message: str) -> list[str]:
    """Misconception ids suggested by an exception the student's code raised."""
    return [h for t, pattern, h in RAISED_HINTS if t == exc_type and re.search(pattern, message)]


def hint_text(hint_id: str) -> str:
    """Return the one-paragraph explanation of a misconception id."""
    title, text = MISCONCEPTIONS[hint_id]
    return f"Likely PyTorch → JAX slip: {title}. {text}"


@dataclass(frozen=True)
class ArrayFacts:
    """What can be said about an array-like value without trusting the object itself."""

    value: np.ndarray
    kind: str  # "jax.Array", "numpy.ndarray", "torch.Tensor", "numpy.generic", "jax.PRNGKey", ...
    dtype: str
    shape: tuple[int, ...]

    def describe(self) -> str:
        """Short human description, e.g. ``jax.Array int32 (3, 4)``."""
        return f"{self.kind} of dtype {self.dtype} and shape {self.shape}"


def facts_of(obj: Any) -> ArrayFacts | None:
    """Turn a live jax/numpy/torch array (or Python number) into plain facts; None if not array-like
    or not data (e.g. float0 gradients). The same conversion as the grader's kernel-side encoder
    (``pt2jax/grade/kernel_side.py``; tests/test_wire.py proves they agree), so that the self-check and
    the grader describe a value in the same words."""
    kind = _kind_of(obj)
    if kind is None:
        return None
    try:
        if kind == "jax.Array":
            import jax

            dtype = str(obj.dtype)
            if jax.dtypes.issubdtype(obj.dtype, jax.dtypes.prng_key):
                data = np.asarray(jax.random.key_data(obj))
                return ArrayFacts(data, "jax.PRNGKey", dtype, tuple(int(n) for n in obj.shape))
            value = np.asarray(obj)
        elif kind == "torch.Tensor":
            import torch

            dtype = str(obj.dtype).removeprefix("torch.")
            t = obj.detach().cpu().resolve_conj().resolve_neg()
            try:
                value = t.numpy()
            except TypeError:  # bfloat16, complex32, float8: no NumPy dtype; compared as float32/complex64
                value = (t.to(torch.complex64) if t.is_complex() else t.float()).numpy()
        else:
            value = np.asarray(obj)
            dtype = str(value.dtype)
        if value.dtype.kind not in "biufc":  # ml_dtypes (bfloat16, float8...) as float32
            value = value.astype(np.float32)
    except (TypeError, ValueError):
        return None
    return ArrayFacts(value, kind, dtype, tuple(int(n) for n in value.shape))


def _real_types() -> dict[str, Any]:
    """The real array classes (as the grader's kernel side classifies them: by exact class, never by
    the module name or attributes an object claims)."""
    types = _REAL_TYPES
    if "jax" not in types and "jax" in sys.modules:
        try:
            from jax._src.array import ArrayImpl
            from jax._src.random.prng import PRNGKeyArray

            types["jax"] = frozenset((ArrayImpl, PRNGKeyArray))
        except Exception:
            pass
    if "torch" not in types and "torch" in sys.modules:
        import torch

        types["torch"] = frozenset((torch.Tensor, torch.nn.Parameter))
    return types


_REAL_TYPES: dict[str, Any] = {}
_NUMPY_SCALARS = frozenset(t for t in np.sctypeDict.values() if issubclass(t, np.generic))


def _kind_of(obj: Any) -> str | None:
    cls = type(obj)
    types = _real_types()
    if cls in types.get("jax", ()):
        return "jax.Array"
    if cls in types.get("torch", ()):
        return "torch.Tensor"
    if cls is np.ndarray:
        return "numpy.ndarray"
    if cls in _NUMPY_SCALARS:
        return "numpy.generic"
    if isinstance(obj, bool | int | float) and not isinstance(obj, np.ndarray):
        return "python " + cls.__name__
    return None


@dataclass
class Mismatch:
    """Why a result differs from the expected one: lines of facts and hint ids."""

    lines: list[str]
    hints: list[str] = field(default_factory=list)

    def render(self, what: str, with_hints: bool = True) -> str:
        """Feedback text: what was checked, expected vs got, and (optionally) the hints."""
        parts = [f"{what} is not what was expected."]
        parts += ["  " + line for line in self.lines]
        if with_hints:
            parts += [hint_text(h) for h in dict.fromkeys(self.hints)]
        return "\n".join(parts)


_WIDE_TO_NARROW = {"int64": "int32", "float64": "float32", "uint64": "uint32", "complex128": "complex64"}
_NARROW_TO_WIDE = {v: k for k, v in _WIDE_TO_NARROW.items()}


def compare_arrays(
    got: ArrayFacts,
    want: ArrayFacts,
    *,
    dtype: str | None = None,
    kind: str | None = "jax.Array",
    rtol: float = 1e-5,
    atol: float = 1e-6,
) -> Mismatch | None:
    """Compare facts of a result with the expected ones; None when they agree."""
    want_dtype = dtype or want.dtype
    exp_desc = f"{kind or 'an array'} of dtype {want_dtype} and shape {want.shape}"
    lines = [f"expected: {exp_desc}", f"got:      {got.describe()}"]
    hints: list[str] = []
    if kind is not None and got.kind != kind:
        hints += _kind_hints(got.kind, kind)
        return Mismatch([*lines, f"The result should be a {kind}, not a {got.kind}."], hints)
    if got.dtype != want_dtype:
        if _WIDE_TO_NARROW.get(got.dtype) == want_dtype:
            hints.append("int64_default")
        elif _NARROW_TO_WIDE.get(got.dtype) == want_dtype:
            hints.append("x64_not_enabled")
        return Mismatch([*lines, f"dtype differs: expected {want_dtype}, got {got.dtype}."], hints)
    if got.shape != want.shape:
        msg = f"shape differs: expected {want.shape}, got {got.shape}."
        if sorted(got.shape) == sorted(want.shape):
            hints.append("dim_vs_axis")
        elif _drops_one_axis(got.shape, want.shape):
            hints.append("keepdim")
        return Mismatch([*lines, msg], hints)
    return _compare_values(got.value, want.value, rtol=rtol, atol=atol, lines=lines)


def _kind_hints(got_kind: str, want_kind: str) -> list[str]:
    if want_kind == "jax.Array":
        if got_kind == "numpy.ndarray":
            return ["numpy_not_jax"]
        if got_kind == "torch.Tensor":
            return ["torch_not_jax"]
        if got_kind.startswith("python") or got_kind == "numpy.generic":
            return ["python_scalar"]
    if want_kind == "torch.Tensor" and got_kind == "jax.Array":
        return ["jax_not_torch"]
    if want_kind.startswith("python") and got_kind != want_kind:
        return ["item_host_sync"]
    return []


def _compare_values(
    got: np.ndarray, want: np.ndarray, *, rtol: float, atol: float, lines: list[str]
) -> Mismatch | None:
    if got.size == 0:
        return None
    exact = (got.dtype.kind in "biu" and want.dtype.kind in "biu") or got.dtype == bool
    ctype = np.complex128 if "c" in (got.dtype.kind, want.dtype.kind) else np.float64
    g, w = got.astype(ctype), want.astype(ctype)
    with np.errstate(all="ignore"):
        bad = np.asarray(got != want) if exact else ~np.isclose(g, w, rtol=rtol, atol=atol, equal_nan=True)
        if not bad.any():
            return None
        # error figures over the mismatching positions only; NaN or inf there counts as infinite
        diff = np.where(bad, np.abs(g - w), 0.0)
        diff = np.where(np.isfinite(diff), diff, np.inf)
        rel = np.where(bad, diff / np.maximum(np.abs(w), np.finfo(np.float64).tiny), 0.0)
        rel = np.where(np.isfinite(rel), rel, np.inf)
    idx = tuple(int(i) for i in np.argwhere(bad)[0])
    at = idx if idx else "()"
    extra = [
        f"values differ at {int(bad.sum())} of {bad.size} positions;"
        f" first at index {at}: expected {_scalar(want[idx])}, got {_scalar(got[idx])}",
        f"max abs error {float(np.max(diff)):.3g}, max rel error {float(np.max(rel)):.3g}"
        f" (tolerance rtol={rtol:g}, atol={atol:g})",
    ]
    return Mismatch(lines + extra)


def _scalar(x: Any) -> str:
    """A plain repr of one element (no ``np.float64(...)`` wrapper)."""
    return repr(x.item()) if isinstance(x, np.generic) else repr(x)


def _drops_one_axis(short: tuple[int, ...], full: tuple[int, ...]) -> bool:
    """True when ``full`` is ``short`` with one size-1 axis inserted (a forgotten keepdims)."""
    return any(full[i] == 1 and full[:i] + full[i + 1 :] == short for i in range(len(full)))


class SelfCheckFailed(AssertionError):
    """A visible self-check failed. In a notebook it shows its teaching message alone (no traceback
    through this file); ``full_traceback()`` prints the full one."""

    def _render_traceback_(self) -> list[str]:
        _LAST[:] = [(type(self), self, self.__traceback__)]
        lines = str(self).splitlines() or [type(self).__name__]
        return [f"✘ {lines[0]}", *lines[1:], FULL_TRACEBACK_NOTE]


FULL_TRACEBACK_NOTE = "(the full traceback: run full_traceback() in a new cell)"


def check_array(
    got: Any,
    want: Any,
    *,
    dtype: str | None = None,
    kind: str | None = "jax.Array",
    rtol: float = 1e-5,
    atol: float = 1e-6,
    what: str = "The result",
    hints: tuple[str, ...] | list[str] | Callable[[], Sequence[str]] = (),
) -> None:
    """Self-check: raise SelfCheckFailed with teaching feedback unless ``got`` matches ``want``;
    ``hints`` are misconception ids named on any mismatch, as the grader's ``expect_array(hints=...)``
    (or a function returning them, called only on a mismatch: for evidence that is costly to gather)."""
    if callable(hints):
        lazy = hints
        try:
            check_array(got, want, dtype=dtype, kind=kind, rtol=rtol, atol=atol, what=what)
        except SelfCheckFailed:
            hints = list(lazy())
        else:
            return
    got_facts = facts_of(got)
    want_facts = facts_of(want)
    if want_facts is None:
        raise TypeError(f"check_array: the expected value is not an array ({type(want).__name__})")
    if got_facts is None:
        raise SelfCheckFailed(
            f"{what} should be {kind or 'an array'}, but it is a {type(got).__module__}."
            f"{type(got).__name__}: {_short_repr(got)}" + "".join("\n" + hint_text(h) for h in hints)
        )
    mismatch = compare_arrays(got_facts, want_facts, dtype=dtype, kind=kind, rtol=rtol, atol=atol)
    if mismatch is not None:
        mismatch.hints += [h for h in hints if h not in mismatch.hints]
        raise SelfCheckFailed(mismatch.render(what))
    print(f"✔ {what}: {got_facts.describe()} matches.")


def check(condition: object, message: str, hint: str | None = None, *, otherwise: str | None = None) -> None:
    """Self-check: print ``✔ message`` when ``condition`` holds; otherwise raise SelfCheckFailed with
    ``otherwise`` (what went wrong, in the grader's words; default ``message``) and the hint's text."""
    if not bool(condition):
        text = otherwise or f"Not so: {message}"
        raise SelfCheckFailed(text + (("\n" + hint_text(hint)) if hint else ""))
    print(f"✔ {message}")


# ------------------------------------------------------------------ errors explained in the notebook
_LAST: list[Any] = []  # the last exception shortened here, for full_traceback()
_NOISE = ("site-packages", "dist-packages", "/lib/python3", "pt2jax_check.py")


@contextmanager
def extra_hints(*hint_ids: str) -> Iterator[None]:
    """Name these misconceptions if anything in the block fails (the self-check side of the grader's
    ``pt2jax.checks.extra_hints``): e.g. around an unpacking that fails when torch's tuple habit is used."""
    try:
        yield
    except Exception as exc:
        exc.__dict__.setdefault("_pt2jax_hints", [])
        exc._pt2jax_hints += [h for h in hint_ids if h not in exc._pt2jax_hints]  # type: ignore[attr-defined]
        raise


def _hints_of(exc: BaseException) -> list[str]:
    hints: list[str] = []
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:  # the exception and what it was raised from
        seen.add(id(exc))
        hints += getattr(exc, "_pt2jax_hints", [])
        hints += hints_for_exception(type(exc).__name__, str(exc))
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return list(dict.fromkeys(hints))


def _short_traceback(etype: type, value: BaseException, tb: Any) -> list[str]:
    """The student's own frames (notebook cells), the error, the hints for it, and how to see everything."""
    import traceback as _tb

    frames = [f for f in _tb.extract_tb(tb) if not any(part in (f.filename or "") for part in _NOISE)]
    lines = ["Traceback (your code only):"] if frames else []
    for frame in frames[-4:]:
        where = "your cell" if "ipykernel" in frame.filename or frame.filename.startswith("<") else frame.filename
        lines.append(f"  {where}, line {frame.lineno}, in {frame.name}")
        if frame.line:
            lines.append(f"    {frame.line.strip()}")
    lines.append(f"{etype.__name__}: {value}")
    lines += [hint_text(h) for h in _hints_of(value)]
    return [*lines, FULL_TRACEBACK_NOTE]


def explain_errors() -> None:
    """In a notebook: show every error as its message, the frames of your own code, and the PyTorch →
    JAX slip it most likely comes from (the same words the grader uses); ``full_traceback()`` shows all.

    It changes how IPython formats a traceback, nothing else: an error is still an error (the cell
    fails, Validate and the grader see it). Not ``set_custom_exc``, which would swallow errors."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None or getattr(shell.InteractiveTB, "_pt2jax_short", False):
        return
    full = shell.InteractiveTB.structured_traceback

    def short(etype: Any, evalue: Any, etb: Any = None, *args: Any, **kwargs: Any) -> list[str]:
        _LAST[:] = [(etype, evalue, etb)]
        try:
            return _short_traceback(etype, evalue, etb)
        except Exception:  # never lose an error because its explanation failed
            return full(etype, evalue, etb, *args, **kwargs)

    shell.InteractiveTB.structured_traceback = short
    shell.InteractiveTB._pt2jax_short = True


def full_traceback() -> None:
    """Print the full traceback of the last error that :func:`explain_errors` shortened."""
    import traceback as _tb

    if not _LAST:
        print("No error has been shortened in this kernel yet.")
        return
    etype, value, tb = _LAST[0]
    print("".join(_tb.format_exception(etype, value, tb)), end="", file=sys.stdout)


def _short_repr(obj: Any, limit: int = 120) -> str:
    text = repr(obj)
    return text if len(text) <= limit else text[: limit - 3] + "..."


_REQ_LINE = re.compile(r"^\s*([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?\s*==\s*([^\s;#]+)")


def check_environment(requirements: str | Path = "requirements.txt") -> dict[str, tuple[str, str]]:
    """Compare installed package versions with the pinned ones; print and return the differences."""
    path = Path(requirements)
    if not path.exists():
        print(f"⚠ {path} not found next to the notebook: cannot check your package versions.")
        return {}
    pins = {}
    for line in path.read_text().splitlines():
        match = _REQ_LINE.match(line)
        if match:
            pins[match.group(1)] = match.group(2)
    diffs: dict[str, tuple[str, str]] = {}
    for name, wanted in pins.items():
        try:
            have = metadata.version(name)
        except metadata.PackageNotFoundError:
            have = "not installed"
        if have.split("+")[0] != wanted.split("+")[0]:  # 2.14.1+cpu is 2.14.1
            diffs[name] = (wanted, have)
    if diffs:
        print("⚠ Your environment differs from the course's pinned versions:")
        for name, (wanted, have) in sorted(diffs.items()):
            print(f"    {name}: course uses {wanted}, you have {have}")
        print(f"  Fix with:  pip install -r {path}")
        print("  Results and error messages may differ from what the grader sees.")
    else:
        print(f"✔ All {len(pins)} pinned packages match the course's versions.")
    return diffs
