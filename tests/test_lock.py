"""The stack is pinned once: pyproject, the lock file and the students' requirements agree."""

from __future__ import annotations

import re
import tomllib

from conftest import REPO

PIN = re.compile(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==([^\s;]+)")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(lines: list[str]) -> dict[str, str]:
    out = {}
    for line in lines:
        m = PIN.match(line.strip())
        if m:
            out[_norm(m.group(1))] = m.group(2)
    return out


LOCK = _pins((REPO / "requirements" / "lock.txt").read_text().splitlines())


def test_lock_pins_every_package_exactly() -> None:
    lines = [line for line in (REPO / "requirements" / "lock.txt").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert len(LOCK) == len(lines) > 50
    for name in ("jax", "jaxlib", "flax", "optax", "torch", "torchvision", "numpy", "nbgrader",
                 "jupyterlab", "jupytext", "pytest"):
        assert name in LOCK


def test_pyproject_pins_match_the_lock() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    deps = project["dependencies"] + [d for extra in project["optional-dependencies"].values() for d in extra]
    pins = _pins(deps)
    assert len(pins) == len(deps), "every direct dependency is pinned with =="
    assert {n: v for n, v in pins.items() if LOCK.get(n) != v} == {}


def test_student_requirements_are_a_pinned_subset_without_grader_tools() -> None:
    student = _pins((REPO / "requirements" / "student.txt").read_text().splitlines())
    assert {n: v for n, v in student.items() if LOCK.get(n) != v} == {}
    assert {"jax", "flax", "optax", "torch", "jupyterlab"} <= set(student)
    assert not {"pytest", "ruff", "mypy", "pt2jax"} & set(student)
