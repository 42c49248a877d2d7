"""Probe step: ask the live student kernel to call its functions on inputs drawn by the grader.

Only plain data comes back (see :mod:`pt2jax.grade.wire`). A probe session can be recorded and replayed,
so the judge step can be tested without running a kernel.
"""

from __future__ import annotations

import ast
import base64
import builtins
import json
import secrets
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

from ..errors import CheckFailed, StudentCrashed, StudentMissing, StudentRaised, StudentTimeout
from .kernel import Kernel, KernelDead, KernelTimeout
from .observed import MalformedFact, Timing, Trace, parse_timing, parse_trace
from .wire import MIME, Opaque, WireError, decode_reply, decode_value, encode_args

__all__ = ["KernelStudent", "RecordingStudent", "ReplayStudent", "Student", "StudentBase"]


Options = dict[str, Any] | None


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

    def call_with_inputs(self, name: str, *args: Any, **kwargs: Any) -> tuple[Any, Any, Any]:
        """Call; return (result, the arguments as data before the call, the same after it)."""
        ...

    def fresh_call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Call in a new Python process that ran only the notebook's code (nothing the kernel keeps in
        memory reaches it); returns decoded data."""
        ...

    def time(self, name: str, *args: Any, repeat: int = 5, **kwargs: Any) -> Timing:
        """Call a function 1 + ``repeat`` times on the same arguments, timed by the grader's clock."""
        ...

    def trace(self, name: str, *args: Any, **kwargs: Any) -> Trace:
        """The jaxpr of a function on these arguments, as reported by the kernel (best effort)."""
        ...

    @property
    def disagreements(self) -> list[str]:
        """Facts reported by the kernel that the grader's own observations contradict."""
        ...

    @property
    def check_notes(self) -> list[Any]:
        """Notes the checks leave for the instructor and the student (results.CheckNote)."""
        ...


def _describe_call(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    return f"`{name}(...)`" if args or kwargs else f"`{name}()`"


class StudentBase:
    """Shared logic: turn a raw reply into a value or the right exception. Subclasses implement
    :meth:`request` (send one probe, return the raw reply)."""

    @property
    def opaque_types(self) -> set[str]:
        """Type names of results that could not cross as data (flagged for the instructor)."""
        return self.__dict__.setdefault("_opaque_types", set())

    def request(
        self, op: str, name: str, args: tuple[Any, ...], kwargs: dict[str, Any], options: Options = None
    ) -> Any:
        raise NotImplementedError

    @property
    def disagreements(self) -> list[str]:
        """Facts reported by the kernel that the grader's own observations contradict (flagged)."""
        return self.__dict__.setdefault("_disagreements", [])

    @property
    def check_notes(self) -> list[Any]:
        """Notes the checks leave (results.CheckNote): each becomes a flag of its kind, and its feedback
        is shown under the check that left it."""
        return self.__dict__.setdefault("_check_notes", [])

    @property
    def runtime_notes(self) -> dict[str, set[str]]:
        """What the kernel side saw around probes: library attributes patched (``patched``, restored
        before the call), locked helpers rebound by later cells (``rebound``), calls that ran host
        callbacks or torch inside JAX code (``impure``); the pipeline flags them."""
        return self.__dict__.setdefault("_runtime_notes", {})

    def _note_runtime(self, reply: dict[str, Any], label: str) -> None:
        notes = self.runtime_notes
        for key in ("patched", "rebound"):
            names = reply.get(key)
            if isinstance(names, list):
                notes.setdefault(key, set()).update(str(n)[:80] for n in names[:20])
        impure = reply.get("impure")
        if isinstance(impure, dict):
            callbacks, torch_ops = impure.get("callbacks"), impure.get("torch")
            where = str(impure.get("where", ""))[:200]
            parts = []
            if type(callbacks) is int and callbacks > 0:
                parts.append(f"{callbacks} host callback(s) (jax.pure_callback / io_callback)")
            if type(torch_ops) is int and torch_ops > 0:
                parts.append(f"{torch_ops} torch operation(s) inside JAX code ({where})")
            if parts:
                notes.setdefault("impure", set()).add(f"{label}: {'; '.join(parts)}")
                raise CheckFailed(
                    f"{label} ran {' and '.join(parts)}. The course asks for JAX code: a function the"
                    " grader calls for a JAX answer must not hand its work to Python on the host or to"
                    " PyTorch (jax.debug.print is fine).")

    def _resolve(self, reply: dict[str, Any], label: str) -> Any:
        self._note_runtime(reply, label)
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
        leaked = reply.get("config_leaked")
        if isinstance(leaked, dict) and leaked:
            changes = ", ".join(f"{str(k)[:40]}: {str(v[0])[:40]} -> {str(v[-1])[:40]}" if isinstance(v, list)
                                and v else str(k)[:40] for k, v in list(leaked.items())[:4])
            raise CheckFailed(
                f"{label} left JAX's global configuration changed ({changes}). A function must not change"
                " settings for the whole program: every array made afterwards, anywhere, would be affected."
                " Scope the change to your computation (for 64-bit numbers: `with jax.enable_x64(True):`).",
                ("x64_global",) if "jax_enable_x64" in leaked else ())
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
        return self._resolve(self.request("call", name, args, kwargs), label)

    def call_raises(self, name: str, *args: Any, **kwargs: Any) -> StudentRaised | None:
        try:
            self.call(name, *args, **kwargs)
        except StudentRaised as exc:
            return exc
        return None

    def get(self, name: str) -> Any:
        return self._resolve(self.request("get", name, (), {}), f"`{name}`")

    def call_with_inputs(self, name: str, *args: Any, **kwargs: Any) -> tuple[Any, Any, Any]:
        label = _describe_call(name, args, kwargs)
        reply = self.request("call", name, args, kwargs, {"inputs": True})
        value = self._resolve(reply, label)
        inputs = reply.get("inputs")
        if not (isinstance(inputs, list) and len(inputs) == 2):
            raise StudentCrashed(label, "the kernel did not report the arguments after the call")
        try:
            before, after = decode_value(inputs[0]), decode_value(inputs[1])
        except WireError as exc:
            raise StudentCrashed(label, f"its arguments could not be read as data ({exc})") from None
        return value, before, after

    def fresh_call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        label = _describe_call(name, args, kwargs)
        return self._resolve(self.request("fresh", name, args, kwargs), f"{label} in a fresh process")

    def time(self, name: str, *args: Any, repeat: int = 5, **kwargs: Any) -> Timing:
        label = _describe_call(name, args, kwargs)
        reply = self.request("time", name, args, kwargs, {"repeat": int(repeat)})
        value = self._resolve(reply, label)
        wall = reply.get("grader_wall_s")
        if type(wall) is not float:
            raise StudentCrashed(label, "the grader has no timing of its own for this call")
        try:
            timing = parse_timing(value, wall)
        except MalformedFact as exc:
            self.disagreements.append(f"timing of {label}: {exc}")
            raise StudentCrashed(label, f"its timing report could not be read ({exc})") from None
        problem = timing.disagreement()
        if problem is not None:
            self.disagreements.append(f"timing of {label}: {problem}")
        return timing

    def speed_op(self, op: str, name: str, **options: Any) -> tuple[Any, float | None]:
        """One step of a speed run (``stage``, ``timed``, ``fetch``, ``release``; see checks.speed):
        the decoded value and, for ``timed``, the grader's clock around the whole request."""
        label = f"`{name}(...)`"
        reply = self.request(op, name, (), {}, options)
        value = self._resolve(reply, label)
        wall = reply.get("grader_wall_s") if isinstance(reply, dict) else None
        if op == "timed" and type(wall) is not float:
            raise StudentCrashed(label, "the grader has no timing of its own for this call")
        return value, wall

    def trace(self, name: str, *args: Any, **kwargs: Any) -> Trace:
        label = _describe_call(name, args, kwargs)
        value = self._resolve(self.request("trace", name, args, kwargs), label)
        try:
            return parse_trace(value)
        except MalformedFact as exc:
            self.disagreements.append(f"trace of {label}: {exc}")
            raise StudentCrashed(label, f"its trace could not be read ({exc})") from None


class KernelStudent(StudentBase):
    """Probes a running :class:`~pt2jax.grade.kernel.Kernel`."""

    def __init__(self, kernel: Kernel, call_timeout_s: float) -> None:
        self.kernel = kernel
        self.call_timeout_s = call_timeout_s
        self._installed = False
        self._round_trip_s: float | None = None
        self.deadline: float | None = None  # time.monotonic() past which no probe runs (the grade's limit)
        self.out_of_time = 0  # probes refused because the grade's time was spent
        self.fresh_reruns = 0  # fresh calls repeated after the whole notebook (the slice was not enough)

    def _install(self) -> None:
        source = resources.files("pt2jax.grade").joinpath("kernel_side.py").read_text()
        outputs = self.kernel.run_code(source, timeout=60)
        errors = [o for o in outputs if o.get("output_type") == "error"]
        if errors:
            raise KernelDead(f"probe helper failed to load: {errors[0].get('ename')}")
        self._installed = True

    def prepare(self, packages: list[str]) -> None:
        """Before the notebook runs: install the probe helper and let it keep the libraries' public
        attributes and real array classes as they are before any student code (``packages``: the
        top-level packages the master's cells import)."""
        self._install()
        self.kernel.run_code(f"__pt2jax_setup__({json.dumps(sorted(packages))})", timeout=120)

    def capture(self, names: list[str]) -> None:
        """Right after a locked cell ran: remember what it bound to ``names`` (see kernel_side)."""
        if names and self._installed:
            self.kernel.run_code(f"__pt2jax_capture__({json.dumps(names)})", timeout=30)

    def request(
        self, op: str, name: str, args: tuple[Any, ...], kwargs: dict[str, Any], options: Options = None
    ) -> Any:
        if op != "fresh":
            return self._request(op, name, args, kwargs, options)
        # a fresh process first runs the notebook sliced to what the call needs; if the slice left
        # out something it needed, the whole notebook runs there and the call is made again
        sliced, whole = fresh_cells(self.kernel.nb, name, self.kernel.seconds_at), fresh_cells(self.kernel.nb)
        reply = self._request(op, name, args, kwargs, {"cells": sliced})
        raised = reply.get("raised") if isinstance(reply, dict) else None
        failed = "missing" in reply or (isinstance(raised, list) and raised[:1] != ["NotImplementedError"])
        if sliced != whole and isinstance(reply, dict) and failed:
            self.fresh_reruns += 1
            reply = self._request(op, name, args, kwargs, {"cells": whole})
        return reply

    def _request(
        self, op: str, name: str, args: tuple[Any, ...], kwargs: dict[str, Any], options: Options = None
    ) -> Any:
        nonce = secrets.token_hex(8)
        request = {
            "nonce": nonce,
            "op": op,
            "name": name,
            "args": encode_args(list(args)),
            "kwargs": encode_args(dict(kwargs)),
            **(options or {}),
        }
        timeout = self.call_timeout_s
        if self.deadline is not None:
            left = self.deadline - time.monotonic()
            if left <= 1:
                self.out_of_time += 1
                return {"timeout": 0.0}
            timeout = min(timeout, left)
        if op == "fresh":  # the notebook's code runs again in a new process before the call
            request |= {"helper": resources.files("pt2jax.grade").joinpath("kernel_side.py").read_text()}
            timeout = FRESH_TIMEOUT_FACTOR * self.call_timeout_s
            if self.deadline is not None:
                timeout = min(timeout, max(1.0, self.deadline - time.monotonic()))
        payload = base64.b64encode(json.dumps(request).encode()).decode("ascii")
        try:
            if not self._installed:
                self._install()
            if op == "time" and self._round_trip_s is None:
                self._round_trip_s = self._measure_round_trip()
            start = time.perf_counter()
            outputs = self.kernel.run_code(f'__pt2jax_probe__("{payload}")', timeout=timeout, reply=True)
            wall = time.perf_counter() - start - (self._round_trip_s or 0.0)
        except KernelTimeout:
            return {"timeout": timeout}
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
                    if op == "time":
                        reply["grader_wall_s"] = max(wall, 0.0)
                    elif op == "timed":  # the whole request; checks.speed subtracts a baseline request's
                        reply["grader_wall_s"] = wall + (self._round_trip_s or 0.0)
                    return reply
        return {"crashed": "no answer came back from the notebook's kernel"}


    def _measure_round_trip(self) -> float:
        """Fastest of a few empty requests: what the channel itself adds to a timed call."""
        samples = []
        for _ in range(3):
            start = time.perf_counter()
            self.kernel.run_code("None", timeout=self.call_timeout_s)
            samples.append(time.perf_counter() - start)
        return min(samples)


FRESH_TIMEOUT_FACTOR = 4  # a fresh call may take this many call time limits (the notebook's code runs first)
FRESH_CHEAP_S = 2.0  # a cell that ran this fast in the grading kernel runs whole in the fresh process
# A fresh call that raised after a sliced run is repeated after the whole notebook (the slice may have
# left out what the call needed: a fair answer never pays for the shortcut), unless what it raised says
# the answer is simply not written yet (NotImplementedError).


def fresh_cells(nb: Any, target: str | None = None, seconds_at: dict[int, float] | None = None) -> list[str]:
    """The code a fresh process runs before a ``fresh`` call of ``target``.

    Grade cells contribute only their imports, functions and classes (the locked helpers the grader
    calls), not their self-check computations; the definitions of every locked cell run once more at
    the end, so a later cell cannot rebind a locked helper there. Every other code cell runs whole,
    except, when ``target`` and ``seconds_at`` (each cell's wall time in the grading kernel) are given,
    a cell that took ``FRESH_CHEAP_S`` or longer: of it only imports, definitions and the statements
    that bind (or mutate) a name ``target`` needs, directly or through other such statements, run.
    That keeps a demo training loop or a model's first forward pass out of the fresh process."""
    from ..nbmeta import is_grade_cell, is_locked

    sources, kinds = [], []
    for index, cell in enumerate(nb.cells):
        if cell.get("cell_type") != "code":
            continue
        source = str(cell.get("source", ""))
        if is_grade_cell(cell):
            kind = "definitions"
        elif target is None or seconds_at is None or seconds_at.get(index, FRESH_CHEAP_S) < FRESH_CHEAP_S:
            kind = "whole"
        else:
            kind = "slice"
        sources.append((source, is_locked(cell) or is_grade_cell(cell)))
        kinds.append(kind)
    parsed = [_parse(source) for source, _ in sources]
    modules = {alias for body in parsed for node in body if isinstance(node, ast.Import | ast.ImportFrom)
               for alias in _bound_by_import(node)}
    fixed = modules | _constants([node for body in parsed for node in body])  # nothing can change these
    statements = _with_callee_effects([[(node, *_names(node, fixed)) for node in body] for body in parsed], fixed)
    needed = _needed({target} if target else set(), [st for cell in statements for st in cell])
    plain = modules | set(dir(builtins))  # a statement reading only these is cheap: a constant, a config

    def keep(node: ast.stmt, binds: set[str], reads: set[str], kind: str) -> bool:
        return isinstance(node, _DEFINITIONS) or (kind == "slice" and bool(binds & needed or reads <= plain))

    cells, locked = [], []
    for (source, lock), kind, body in zip(sources, kinds, statements, strict=True):
        if kind == "whole":
            cells.append(source)
        else:
            cells.append("\n\n".join(ast.unparse(st[0]) for st in body if keep(*st, kind)))
        if lock:
            locked.append("\n\n".join(ast.unparse(st[0]) for st in body if isinstance(st[0], _DEFINITIONS)))
    return cells + locked


_DEFINITIONS = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


_TRANSPARENT_MAGICS = ("%%time\n", "%%capture\n")  # cell magics that run their body as plain Python


def _parse(source: str) -> list[ast.stmt]:
    """A cell's top-level statements (IPython magics become the calls IPython would run, a ``%%time``
    cell its body; a cell that does not parse gives nothing, as it would define nothing)."""
    from IPython.core.inputtransformer2 import TransformerManager

    stripped = source.lstrip()
    for magic in _TRANSPARENT_MAGICS:
        if stripped.startswith(magic):
            source = stripped[len(magic):]
    try:
        return ast.parse(TransformerManager().transform_cell(source)).body
    except (SyntaxError, ValueError):
        return []


def _bound_by_import(node: ast.Import | ast.ImportFrom) -> set[str]:
    return {(a.asname or a.name).split(".")[0] for a in node.names if a.name != "*"}


def _constants(statements: list[ast.stmt]) -> set[str]:
    """Names only ever bound to literals (``PATH = "w.npy"``, ``N = 2 ** 10``): no call can change them."""
    literal_targets: set[int] = set()
    literal: set[str] = set()
    for node in statements:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Assign) and _is_literal(sub.value):
                for target in sub.targets:
                    if isinstance(target, ast.Name):
                        literal.add(target.id)
                        literal_targets.add(id(target))
    rebound = {sub.id for node in statements for sub in ast.walk(node) if isinstance(sub, ast.Name)
               and isinstance(sub.ctx, ast.Store | ast.Del) and id(sub) not in literal_targets}
    return literal - rebound


def _is_literal(value: ast.expr) -> bool:
    return all(isinstance(n, ast.Constant | ast.Tuple | ast.JoinedStr | ast.FormattedValue | ast.UnaryOp | ast.BinOp
                          | ast.operator | ast.unaryop | ast.expr_context) for n in ast.walk(value))


_PURE_BUILTINS = set(dir(builtins)) - {"setattr", "delattr", "next", "exec", "eval", "vars", "globals"}


def _names(node: ast.stmt, fixed: set[str]) -> tuple[set[str], set[str]]:
    """The names a statement binds or may change, and the names it reads. A method call, an
    item/attribute assignment or passing an object to a call (other than a builtin that leaves its
    arguments alone) counts as a change to it (``items.append(x)``, ``cfg["lr"] = 1``, ``fill(cache)``),
    unless it is an imported module or a name only ever bound to a literal (``np.random.seed`` does not
    make every later ``np.`` call a change to ``np``)."""
    binds: set[str] = set()
    reads: set[str] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            (binds if isinstance(sub.ctx, ast.Store | ast.Del) else reads).add(sub.id)
        elif isinstance(sub, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            binds.add(sub.name)
        elif isinstance(sub, ast.Import | ast.ImportFrom):
            binds |= _bound_by_import(sub)
        elif isinstance(sub, ast.Subscript | ast.Attribute) and isinstance(sub.ctx, ast.Store | ast.Del):
            binds |= _base_names(sub) - fixed
        elif isinstance(sub, ast.Call):
            if isinstance(sub.func, ast.Attribute):
                binds |= _base_names(sub.func.value) - fixed
            if not (isinstance(sub.func, ast.Name) and sub.func.id in _PURE_BUILTINS):
                for arg in [*sub.args, *(k.value for k in sub.keywords)]:  # fill(cache), train(model)
                    binds |= _base_names(arg) - fixed
    return binds, reads


Statement = tuple[ast.stmt, set[str], set[str]]


def _with_callee_effects(cells: list[list[Statement]], fixed: set[str]) -> list[list[Statement]]:
    """A top-level call of a notebook function may change what that function (or one it calls) reads
    (``register(f)`` appending to a module-level list): count those names as bound by the call."""
    defined = {n.name: reads for cell in cells for n, _, reads in cell
               if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}

    def reach(name: str) -> set[str]:
        seen: set[str] = set()
        todo = [name]
        while todo:
            for read in defined.get(todo.pop(), set()) - seen:
                seen.add(read)
                todo.append(read)
        return seen

    out = []
    for cell in cells:
        out.append([
            (node, binds | {r for sub in ast.walk(node) if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Name)
                            and sub.func.id in defined for r in reach(sub.func.id) - fixed}, reads)
            if not isinstance(node, _DEFINITIONS) else (node, binds, reads)
            for node, binds, reads in cell
        ])
    return out


def _base_names(node: ast.AST) -> set[str]:
    while isinstance(node, ast.Attribute | ast.Subscript | ast.Call):
        node = node.func if isinstance(node, ast.Call) else node.value
    return {node.id} if isinstance(node, ast.Name) else set()


def _needed(seeds: set[str], statements: list[Statement]) -> set[str]:
    """Every name the seeds depend on through statements that bind them (a fixed point)."""
    needed = set(seeds)
    grew = True
    while grew:
        grew = False
        for _, binds, reads in statements:
            if binds & needed and not reads <= needed:
                needed |= reads
                grew = True
    return needed


@dataclass
class RecordingStudent(StudentBase):
    """Wraps another student and records every request and raw reply."""

    inner: StudentBase
    log: list[dict[str, Any]] = field(default_factory=list)

    def request(
        self, op: str, name: str, args: tuple[Any, ...], kwargs: dict[str, Any], options: Options = None
    ) -> Any:
        reply = self.inner.request(op, name, args, kwargs, options)
        self.log.append({"request": _request_key(op, name, args, kwargs, options), "reply": reply})
        return reply

    def save(self, path: Path) -> None:
        """Write the recording as JSON."""
        path.write_text(json.dumps(self.log, indent=1, sort_keys=True))


class ReplayStudent(StudentBase):
    """Answers from a recording; a request that was never recorded raises ``KeyError``."""

    def __init__(self, log: list[dict[str, Any]]) -> None:
        self.replies = {json.dumps(e["request"], sort_keys=True): e["reply"] for e in log}

    @classmethod
    def load(cls, path: Path) -> ReplayStudent:
        return cls(json.loads(path.read_text()))

    def request(
        self, op: str, name: str, args: tuple[Any, ...], kwargs: dict[str, Any], options: Options = None
    ) -> Any:
        key = json.dumps(_request_key(op, name, args, kwargs, options), sort_keys=True)
        if key not in self.replies:
            raise KeyError(f"no recorded reply for {op} {name}: re-record the probes")
        return self.replies[key]


def _request_key(op: str, name: str, args: tuple[Any, ...], kwargs: dict[str, Any], options: Options) -> Any:
    key = {"op": op, "name": name, "args": encode_args(list(args)), "kwargs": encode_args(kwargs)}
    return key | ({"options": options} if options else {})
