"""Audit step: flag student code that reaches for the grader, the machine or the runtime itself.

Flags never change a score (the sandbox and the out-of-process judge already make these attempts
useless); they tell the instructor where to look. The scan is of the student's own cells only
(answer cells and cells they added), parsed with ``ast`` so that comments and prose do not count.

The audit judges **what the code reaches for**, not which words appear in it:

* ``suspicious_code`` (a person should look): rebinding what other code relies on (an attribute of an
  imported module, ``module.__dict__[...]``, ``vars(module)[...]``, ``sys.modules[...]``,
  ``setattr``/``delattr`` on a module), ending or forking the process, raising ``SystemExit`` or
  ``KeyboardInterrupt``, the kernel's own machinery (``get_ipython().<anything but magics>``, the
  probe's ``__pt2jax`` names), processes, sockets and native code, the grader's files (``autograder``,
  ``gradebook``, ``/proc/``...), text imitating the grader's verdicts ("3 / 3 points", "hidden checks"),
  and ``exec``/``eval`` of code the audit cannot read (a constant string is audited as code).
* ``unusual_code`` (informational, no review): curiosities with honest uses: ``inspect``, ``gc``,
  ``threading``, ``timeit``, ``importlib``, ``globals()``, ``except KeyboardInterrupt``, a bare
  ``get_ipython`` for magics, "all tests passed" strings, ``sys.setrecursionlimit``.

Ordinary code is not flagged at all: ``setattr(self, f"layer{i}", ...)``, ``import pickle`` to save a
state, a docstring that mentions "the points x".
"""

from __future__ import annotations

import ast
import re
from typing import Any

from ..nbmeta import grade_id
from ..results import Flag

__all__ = ["audit_cells"]

# modules that reach outside the exercise: other processes, the network, native code, the grader
_REACHING_MODULES = {
    "subprocess", "socket", "ctypes", "pty", "signal", "resource", "urllib", "http", "requests", "sqlite3",
    "pytest", "pt2jax", "nbgrader", "builtins", "jupyter_client", "ipykernel", "zmq", "nbclient", "bwrap",
}
# modules with honest uses that are still worth a note
_CURIOUS_MODULES = {"importlib", "gc", "inspect", "threading", "multiprocessing", "timeit", "IPython", "shutil"}
# attribute calls that end, fork or rewire the process (or the interpreter's tracing)
_REACHING_CALLS = {
    "_exit", "exit", "abort", "fork", "forkpty", "kill", "killpg", "system", "popen", "execv", "execve", "execvp",
    "spawnv", "posix_spawn", "set_custom_exc", "settrace", "setprofile", "register_magic_function",
    "posix_fallocate",
}
_CURIOUS_CALLS = {"setrecursionlimit", "reload"}
_MAGIC_METHODS = {"run_line_magic", "run_cell_magic", "magic"}  # get_ipython().<these> is ordinary
_REACHING_TEXT = re.compile(
    r"autograder|gradebook|/proc/|\.pt2jax|__pt2jax|nbgrader|BEGIN (HIDDEN TESTS|SOLUTION)|/sys/fs|"
    r"hidden (tests?|checks?)\b|\b\d+(\.\d+)?\s*/\s*\d+(\.\d+)?\s+points?\b", re.IGNORECASE)
_CURIOUS_TEXT = re.compile(r"\b(all )?tests? passed|all checks passed", re.IGNORECASE)


class _Finder:
    def __init__(self, imported: set[str]) -> None:
        self.imported = imported
        self.reaching: list[str] = []
        self.curious: list[str] = []

    def _rooted_in_module(self, node: ast.AST) -> bool:
        """``node`` is an imported name or an attribute chain starting at one (``jax.numpy``)."""
        root = _root_name(node)
        return root is not None and root in self.imported

    def _namespace_of_module(self, node: ast.AST) -> bool:
        """``X.__dict__`` / ``vars(X)`` for an imported X, or ``sys.modules``."""
        if isinstance(node, ast.Attribute) and node.attr == "__dict__":
            return self._rooted_in_module(node.value)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "vars" and node.args:
            return self._rooted_in_module(node.args[0])
        return isinstance(node, ast.Attribute) and node.attr == "modules" and _root_name(node) == "sys"

    def _target(self, target: ast.AST) -> None:
        if isinstance(target, ast.Tuple | ast.List):
            for item in target.elts:
                self._target(item)
        elif isinstance(target, ast.Attribute) and self._rooted_in_module(target.value):
            self.reaching.append(f"patches {ast.unparse(target)}")
        elif isinstance(target, ast.Subscript) and self._namespace_of_module(target.value):
            self.reaching.append(f"rebinds {ast.unparse(target)}")

    def _code_string(self, node: ast.Call, what: str) -> None:
        arg = node.args[0] if node.args else None
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            try:
                self.visit(ast.parse(arg.value))  # audit what it runs, as code
            except SyntaxError:
                self.curious.append(f"{what} of text that is not Python")
        else:
            self.reaching.append(f"{what} of code built at run time (the audit cannot read it)")

    def visit(self, tree: ast.AST) -> None:
        for node in ast.walk(tree):
            self._node(node)

    def _node(self, node: ast.AST) -> None:
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            for name in names:
                top = name.split(".")[0]
                if top in _REACHING_MODULES:
                    self.reaching.append(f"imports {name}")
                elif top in _CURIOUS_MODULES:
                    self.curious.append(f"imports {name}")
        elif isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign | ast.Delete):
            targets = (node.targets if isinstance(node, ast.Assign | ast.Delete) else [node.target])
            for target in targets:
                self._target(target)
        elif isinstance(node, ast.Call):
            self._call(node)
        elif isinstance(node, ast.Attribute):
            if node.attr in _REACHING_CALLS:
                self.reaching.append(f"uses {ast.unparse(node)}")
            elif node.attr in _CURIOUS_CALLS:
                self.curious.append(f"uses {ast.unparse(node)}")
            elif (isinstance(node.value, ast.Call) and isinstance(node.value.func, ast.Name)
                  and node.value.func.id == "get_ipython" and node.attr not in _MAGIC_METHODS):
                self.reaching.append(f"uses get_ipython().{node.attr}")
        elif isinstance(node, ast.Raise) and node.exc is not None:
            exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if isinstance(exc, ast.Name) and exc.id in ("SystemExit", "KeyboardInterrupt"):
                self.reaching.append(f"raises {exc.id}")
        elif isinstance(node, ast.Name):
            if node.id.startswith("__pt2jax") or node.id == "__builtins__":
                self.reaching.append(f"uses {node.id}")
            elif node.id in ("get_ipython", "globals", "__import__", "KeyboardInterrupt", "SystemExit"):
                self.curious.append(f"uses {node.id}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if match := _REACHING_TEXT.search(node.value):
                self.reaching.append(f"mentions {match.group(0)!r}")
            elif match := _CURIOUS_TEXT.search(node.value):
                self.curious.append(f"mentions {match.group(0)!r}")

    def _call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Name) and func.id in ("setattr", "delattr") and node.args:
            if self._rooted_in_module(node.args[0]) or self._namespace_of_module(node.args[0]):
                self.reaching.append(f"rebinds with {func.id}({ast.unparse(node.args[0])}, ...)")
        elif isinstance(func, ast.Name) and func.id in ("exec", "eval", "compile"):
            self._code_string(node, func.id)
        elif (isinstance(func, ast.Attribute) and func.attr in ("update", "__setitem__", "pop", "setdefault")
              and self._namespace_of_module(func.value)):
            self.reaching.append(f"rebinds with {ast.unparse(func)}(...)")


def _root_name(node: ast.AST) -> str | None:
    while isinstance(node, ast.Attribute | ast.Subscript):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _imported_names(trees: list[ast.AST]) -> set[str]:
    names = {"np", "jnp", "jax", "torch", "numpy", "time", "os", "sys", "math", "random", "builtins"}
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names |= {(a.asname or a.name).split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                names |= {a.asname or a.name for a in node.names}
    return names


def audit_cells(cells: list[Any]) -> list[Flag]:
    """Flags for code reaching for the grader or the runtime (``suspicious_code``, for review) and for
    curiosities (``unusual_code``, informational) in the student's code cells."""
    parsed: list[tuple[str | None, ast.AST]] = []
    for cell in cells:
        if cell.get("cell_type") != "code":
            continue
        gid = grade_id(cell)
        source = "\n".join(line for line in cell.get("source", "").splitlines()
                           if not line.lstrip().startswith(("%", "!")))  # magics are not Python
        try:
            parsed.append((gid, ast.parse(source)))
        except SyntaxError:
            continue  # a syntax error is the student's loss, reported by execution
    imported = _imported_names([t for _, t in parsed])
    flags = []
    for gid, tree in parsed:
        finder = _Finder(imported)
        finder.visit(tree)
        where = f"cell '{gid}'" if gid else "a cell the student added"
        for kind, found in (("suspicious_code", finder.reaching), ("unusual_code", finder.curious)):
            found = list(dict.fromkeys(found))
            if found:
                flags.append(Flag(kind, f"{where}: {'; '.join(found[:6])}", gid))
    return flags
