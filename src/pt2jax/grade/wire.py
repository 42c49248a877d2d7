"""Plain-data encoding between the grader and the student's kernel.

Only JSON and ``.npy`` bytes cross the boundary, and the grader decodes them with
``allow_pickle=False``: nothing the student's process sends can reach pickle, dill or eval here.
"""

from __future__ import annotations

import base64
import io
import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..kit.check import ArrayFacts

__all__ = [
    "MIME",
    "Opaque",
    "StudentArray",
    "WireError",
    "as_jax",
    "as_torch",
    "decode_value",
    "encode_args",
    "prng_key",
]

MIME = "application/vnd.pt2jax.probe+json"  # must equal kernel_side._MIME
MAX_REPLY_BYTES = 64 * 1024 * 1024
_MAX_DEPTH = 32
_ARRAY_KINDS = {"jax.Array", "jax.PRNGKey", "numpy.ndarray", "numpy.generic", "torch.Tensor"}


class WireError(ValueError):
    """The student's kernel sent something that is not valid probe data."""


@dataclass(frozen=True)
class StudentArray:
    """An array returned by student code, as plain facts (never the student's object)."""

    value: np.ndarray
    kind: str
    dtype: str
    shape: tuple[int, ...]
    weak_type: bool | None = None
    device: str | None = None
    committed: bool | None = None

    @property
    def facts(self) -> ArrayFacts:
        """The subset of facts the comparison functions use."""
        return ArrayFacts(self.value, self.kind, self.dtype, self.shape)


@dataclass(frozen=True)
class Opaque:
    """A value of a type that cannot cross as data; only its type name is known."""

    type_name: str


@dataclass(frozen=True)
class _Tagged:
    tag: str
    body: Any


def as_jax(array: Any, device: int | None = None) -> _Tagged:
    """Send ``array`` as a jax.Array (uncommitted, or committed to CPU device ``device``)."""
    return _Tagged("__jax__", {"npy": _npy(np.asarray(array)), "device": device})


def as_torch(array: Any, requires_grad: bool = False) -> _Tagged:
    """Send ``array`` as a torch.Tensor in memory torch allocated itself (as a student's own tensors
    are: aligned for zero-copy DLPack), optionally with ``requires_grad=True`` (float dtypes only)."""
    npy = _npy(np.asarray(array))
    return _Tagged("__torch__", {"npy": npy, "requires_grad": True} if requires_grad else npy)


def prng_key(seed: int) -> _Tagged:
    """Send ``jax.random.key(seed)``."""
    return _Tagged("__key__", int(seed))


def _npy(array: np.ndarray) -> str:
    buf = io.BytesIO()
    np.save(buf, np.asarray(array), allow_pickle=False)  # keeps 0-d arrays 0-d
    return base64.b64encode(buf.getvalue()).decode("ascii")


def encode_args(value: Any) -> Any:
    """Encode call arguments as JSON-ready data."""
    if isinstance(value, _Tagged):
        return {value.tag: value.body}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return {"__ndarray__": _npy(value)}
    if isinstance(value, tuple):
        return {"__tuple__": [encode_args(v) for v in value]}
    if isinstance(value, list):
        return [encode_args(v) for v in value]
    if isinstance(value, dict):
        return {"__dict__": [[str(k), encode_args(v)] for k, v in value.items()]}
    raise TypeError(f"cannot send {type(value).__name__} to the student's kernel")


def decode_reply(text: str) -> dict[str, Any]:
    """Parse a reply envelope from the kernel, refusing anything but plain JSON."""
    if len(text) > MAX_REPLY_BYTES:
        raise WireError(f"reply of {len(text)} bytes exceeds {MAX_REPLY_BYTES}")
    try:
        reply = json.loads(text)
    except (ValueError, RecursionError) as exc:  # bad JSON, >4300-digit ints, absurd nesting
        raise WireError(f"reply is not JSON: {str(exc)[:200]}") from None
    if not isinstance(reply, dict):
        raise WireError("reply is not a JSON object")
    return reply


def decode_value(obj: Any, depth: int = 0) -> Any:
    """Decode a result value; arrays become StudentArray with exact dtype and shape checked."""
    if depth > _MAX_DEPTH:
        raise WireError("value nested too deeply")
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    if isinstance(obj, list):
        return [decode_value(v, depth + 1) for v in obj]
    if not isinstance(obj, dict) or len(obj) != 1:
        raise WireError(f"unexpected value {str(obj)[:80]}")
    ((tag, body),) = obj.items()
    if tag == "__tuple__" and isinstance(body, list):
        return tuple(decode_value(v, depth + 1) for v in body)
    if tag == "__dict__" and isinstance(body, list):
        out = {}
        for pair in body:
            if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str)):
                raise WireError("malformed dict entry")
            out[pair[0]] = decode_value(pair[1], depth + 1)
        return out
    if tag == "__opaque__" and isinstance(body, str):
        return Opaque(body[:200])
    if tag == "__array__" and isinstance(body, dict):
        return _decode_array(body)
    raise WireError(f"unknown tag {tag!r}")


def decode_npy(text: Any) -> np.ndarray:
    """A bare ``.npy`` payload (base64) from the kernel as a plain numeric array, or WireError."""
    return _decode_array({"kind": "numpy.ndarray", "dtype": "float64", "npy": text}).value


def _decode_array(body: dict[str, Any]) -> StudentArray:
    kind = body.get("kind")
    dtype = body.get("dtype")
    npy = body.get("npy")
    if kind not in _ARRAY_KINDS or not isinstance(dtype, str) or not isinstance(npy, str):
        raise WireError("malformed array")
    try:
        value = np.load(io.BytesIO(base64.b64decode(npy, validate=True)), allow_pickle=False)
    except Exception as exc:
        raise WireError(f"array payload unreadable: {exc}") from None
    # exact type and a plain numeric dtype: no subclass, object or structured array gets through
    if type(value) is not np.ndarray or value.dtype.kind not in "biufc" or value.dtype.fields:
        raise WireError("array payload is not a plain numeric array")
    weak, device, committed = body.get("weak_type"), body.get("device"), body.get("committed")
    shape = tuple(int(n) for n in value.shape)
    if kind == "jax.PRNGKey":  # value holds key data, one trailing axis more than the keys
        claimed = body.get("shape")
        if not (isinstance(claimed, list) and all(type(n) is int for n in claimed)
                and tuple(claimed) == shape[: len(claimed)] and len(claimed) < len(shape)):
            raise WireError("malformed PRNG key shape")
        shape = tuple(claimed)
    return StudentArray(
        value=value,
        kind=kind,
        dtype=dtype[:40],
        shape=shape,
        weak_type=weak if isinstance(weak, bool) else None,
        device=device[:200] if isinstance(device, str) else None,
        committed=committed if isinstance(committed, bool) else None,
    )
