"""Probe step: ask the live student kernel to call its functions on inputs drawn by the grader.

Only plain data comes back (see :mod:`pt2jax.wire`). A probe session can be recorded and replayed,
so the judge step can be tested without running a kernel.
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

from .errors import StudentCrashed, StudentMissing, StudentRaised, StudentTimeout
from .execute import Kernel, KernelDead, KernelTimeout
from .wire import MIME, Opaque, WireError, decode_reply, decode_value, encode_args

__all__ = ["KernelStudent", "RecordingStudent", "ReplayStudent", "Student"]


class Student(Protocol):
    """What hidden checks see of the student's notebook."""

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Call a notebook function on grader-made arguments; returns decoded data."""
        ...

    def call_raises(self, name: str, *args: Any, **kwargs: Any) -> StudentRaised | None:
        """Call and return the exception the student's code raised (None if it returned)."""
        ...

    def get(self, name: str) -> Any:
        """Value of a notebook global, as data."""
        ...


def _describe_call(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    return f"`{name}(...)`" if args or kwargs else f"`{name}()`"


class _StudentBase:
    """Shared logic: turn a raw reply into a value or the right exception."""

    @property
    def opaque_types(self) -> set[str]:
        """Type names of results that could not cross as data (flagged for the instructor)."""
        return self.__dict__.setdefault("_opaque_types", set())

    def _request(self, op: str, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        raise NotImplementedError

    def _resolve(self, reply: dict[str, Any], label: str) -> Any:
        if "missing" in reply:
            raise StudentMissing(str(reply["missing"])[:100])
        if "raised" in reply:
            exc = reply["raised"]
            if not (isinstance(exc, list) and len(exc) == 2 and all(isinstance(s, str) for s in exc)):
                raise StudentCrashed(label, "the kernel sent a malformed error report")
            raise StudentRaised(label, exc[0][:100], exc[1])
        if "timeout" in reply:
            raise StudentTimeout(label, float(reply["timeout"]))
        if "crashed" in reply:
            raise StudentCrashed(label, str(reply["crashed"]))
        if "value" not in reply:
            raise StudentCrashed(label, "the kernel sent no value")
        try:
            value = decode_value(reply["value"])
        except WireError as exc:
            raise StudentCrashed(label, f"its result could not be read as data ({exc})") from None
        self._note_opaque(value)
        return value

    def _note_opaque(self, value: Any) -> None:
        if isinstance(value, Opaque):
            self.opaque_types.add(value.type_name)
        elif isinstance(value, tuple | list):
            for item in value:
                self._note_opaque(item)
        elif isinstance(value, dict):
            for item in value.values():
                self._note_opaque(item)

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        label = _describe_call(name, args, kwargs)
        return self._resolve(self._request("call", name, args, kwargs), label)

    def call_raises(self, name: str, *args: Any, **kwargs: Any) -> StudentRaised | None:
        try:
            self.call(name, *args, **kwargs)
        except StudentRaised as exc:
            return exc
        return None

    def get(self, name: str) -> Any:
        return self._resolve(self._request("get", name, (), {}), f"`{name}`")


class KernelStudent(_StudentBase):
    """Probes a running :class:`~pt2jax.execute.Kernel`."""

    def __init__(self, kernel: Kernel, call_timeout_s: float) -> None:
        self.kernel = kernel
        self.call_timeout_s = call_timeout_s
        self._installed = False

    def _install(self) -> None:
        source = resources.files("pt2jax").joinpath("_kernel_side.py").read_text()
        outputs = self.kernel.run_code(source, timeout=60)
        errors = [o for o in outputs if o.get("output_type") == "error"]
        if errors:
            raise KernelDead(f"probe helper failed to load: {errors[0].get('ename')}")
        self._installed = True

    def _request(self, op: str, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        nonce = secrets.token_hex(8)
        request = {
            "nonce": nonce,
            "op": op,
            "name": name,
            "args": encode_args(list(args)),
            "kwargs": encode_args(dict(kwargs)),
        }
        payload = base64.b64encode(json.dumps(request).encode()).decode("ascii")
        try:
            if not self._installed:
                self._install()
            outputs = self.kernel.run_code(
                f'__pt2jax_probe__("{payload}")', timeout=self.call_timeout_s
            )
        except KernelTimeout:
            return {"timeout": self.call_timeout_s}
        except KernelDead as exc:
            return {"crashed": str(exc)}
        for out in outputs:
            text = out.get("data", {}).get(MIME) if out.get("output_type") == "display_data" else None
            if isinstance(text, str):
                try:
                    reply = decode_reply(text)
                except WireError as exc:
                    return {"crashed": str(exc)}
                if reply.get("nonce") == nonce:
                    reply.pop("nonce")
                    return reply
        return {"crashed": "no answer came back from the notebook's kernel"}


@dataclass
class RecordingStudent(_StudentBase):
    """Wraps another student and records every request and raw reply."""

    inner: _StudentBase
    log: list[dict[str, Any]] = field(default_factory=list)

    def _request(self, op: str, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        reply = self.inner._request(op, name, args, kwargs)
        self.log.append({"request": _request_key(op, name, args, kwargs), "reply": reply})
        return reply

    def save(self, path: Path) -> None:
        """Write the recording as JSON."""
        path.write_text(json.dumps(self.log, indent=1, sort_keys=True))


class ReplayStudent(_StudentBase):
    """Answers from a recording; a request that was never recorded raises ``KeyError``."""

    def __init__(self, log: list[dict[str, Any]]) -> None:
        self.replies = {json.dumps(e["request"], sort_keys=True): e["reply"] for e in log}

    @classmethod
    def load(cls, path: Path) -> ReplayStudent:
        return cls(json.loads(path.read_text()))

    def _request(self, op: str, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        key = json.dumps(_request_key(op, name, args, kwargs), sort_keys=True)
        if key not in self.replies:
            raise KeyError(f"no recorded reply for {op} {name}: re-record the probes")
        return self.replies[key]


def _request_key(op: str, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return {"op": op, "name": name, "args": encode_args(list(args)), "kwargs": encode_args(kwargs)}
