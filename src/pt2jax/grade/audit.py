"""Audit step: flag student code that reaches for the grader, the machine or the runtime itself.

Flags never change a score (the sandbox and the out-of-process judge already make these attempts
useless); they tell the instructor where to look. The scan is of the student's own cells only
(answer cells and cells they added), parsed with ``ast`` so that comments and prose do not count.
"""

from __future__ import annotations

import ast
import re
from typing import Any

from ..nbmeta import grade_id
from ..results import Flag

__all__ = ["audit_cells"]

# modules whose import in a JAX exercise has no teaching purpose
_SUSPICIOUS_MODULES = {
    "subprocess", "socket", "ctypes", "importlib", "builtins", "gc", "inspect", "signal", "shutil",
    "multiprocessing", "threading", "urllib", "http", "requests", "sqlite3", "pytest", "pt2jax",
    "nbgrader", "IPython", "pickle", "dill", "resource", "pty", "timeit",
}
# attribute calls that end, fork or rewire the process
_SUSPICIOUS_CALLS = {
    "_exit", "exit", "fork", "forkpty", "kill", "system", "popen", "execv", "execve", "set_custom_exc",
    "setrecursionlimit", "settrace", "setprofile", "register_magic_function", "reload",
}
_SUSPICIOUS_NAMES = {"get_ipython", "__builtins__", "__import__", "exec", "eval", "globals", "compile",
                     "SystemExit", "KeyboardInterrupt", "setattr", "delattr"}
_SUSPICIOUS_TEXT = re.compile(
    r"autograder|gradebook|/proc/|\.pt2jax|__pt2jax|nbgrader|hidden test|tests? passed|all checks|"
    r"points|BEGIN (HIDDEN TESTS|SOLUTION)|/sys/fs", re.IGNORECASE)


def _findings(tree: ast.AST, imported: set[str]) -> list[str]:
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            found += [f"imports {n}" for n in names if n.split(".")[0] in _SUSPICIOUS_MODULES]
        elif isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Attribute) and _root_name(target) in imported:
                    found.append(f"patches {ast.unparse(target)}")
        elif isinstance(node, ast.Attribute) and node.attr in _SUSPICIOUS_CALLS:
            found.append(f"uses {ast.unparse(node)}")
        elif isinstance(node, ast.Name) and node.id in _SUSPICIOUS_NAMES:
            found.append(f"uses {node.id}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            match = _SUSPICIOUS_TEXT.search(node.value)
            if match:
                found.append(f"mentions {match.group(0)!r}")
    return found


def _root_name(node: ast.AST) -> str | None:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _imported_names(trees: list[ast.AST]) -> set[str]:
    names = {"np", "jnp", "jax", "torch", "numpy", "time", "os", "sys", "math", "random"}
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names |= {(a.asname or a.name).split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                names |= {a.asname or a.name for a in node.names}
    return names


def audit_cells(cells: list[Any]) -> list[Flag]:
    """Flags for suspicious constructs in the student's code cells (each cell: a notebook cell)."""
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
        found = list(dict.fromkeys(_findings(tree, imported)))
        if found:
            where = f"cell '{gid}'" if gid else "a cell the student added"
            flags.append(Flag("suspicious_code", f"{where}: {'; '.join(found[:6])}", gid))
    return flags
