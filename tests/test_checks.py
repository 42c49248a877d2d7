"""The checks API's general rules: inputs after the call, configuration leaks, independent draws."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from pt2jax.checks import CheckFailed, call_keeping_inputs, expect_unrelated
from pt2jax.grade.probe import StudentBase
from pt2jax.grade.wire import encode_args


def _array(a: np.ndarray) -> dict[str, Any]:
    import base64
    import io

    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=False)
    return {"__array__": {"kind": "jax.Array", "dtype": str(a.dtype), "weak_type": False, "device": "cpu:0",
                          "committed": False, "npy": base64.b64encode(buf.getvalue()).decode()}}


class Canned(StudentBase):
    """Answers every request with one raw reply."""

    def __init__(self, reply: dict[str, Any]) -> None:
        self.reply = reply
        self.options: list[Any] = []

    def request(self, op: str, name: str, args: tuple[Any, ...], kwargs: dict[str, Any], options: Any = None) -> Any:
        self.options.append(options)
        return self.reply


W = np.ones(3, np.float32)


def test_unchanged_inputs_pass_and_are_asked_for() -> None:
    params = {"__dict__": [["w", _array(W)]]}
    student = Canned({"value": 1, "inputs": [[[params], {"__dict__": []}], [[params], {"__dict__": []}]]})
    assert call_keeping_inputs(student, "f", {"w": W}) == 1
    assert student.options == [{"inputs": True}]


def test_a_mutated_argument_fails_with_its_path() -> None:
    before = {"__dict__": [["out", {"__dict__": [["b", _array(W)]]}]]}
    after = {"__dict__": [["out", {"__dict__": [["b", _array(W - 1)]]}]]}
    student = Canned({"value": 1, "inputs": [[[before], {"__dict__": []}], [[after], {"__dict__": []}]]})
    with pytest.raises(CheckFailed, match=r"first argument in place \(its \['out'\]\['b'\] differs"):
        call_keeping_inputs(student, "sgd_update", {"out": {"b": W}})


def test_leaked_configuration_fails_every_call() -> None:
    student = Canned({"value": 1, "config_leaked": {"jax_enable_x64": ["False", "True"]}})
    with pytest.raises(CheckFailed, match="left JAX's global configuration changed") as info:
        student.call("exact_sum", 1)
    assert "x64_global" in info.value.hints
    assert Canned({"value": 1}).call("exact_sum", 1) == 1


def test_independent_draws_pass_related_ones_fail() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=400), rng.normal(size=400)
    expect_unrelated(a, b, "draws")
    for related in (a[::-1], -a, rng.permutation(a), a * 0.5 + 0.01, np.tanh(a)):
        with pytest.raises(CheckFailed):
            expect_unrelated(a, related, "draws")


def test_requires_grad_travels_only_when_asked() -> None:
    from pt2jax.checks import as_torch

    assert isinstance(encode_args(as_torch(W))["__torch__"], str)
    assert encode_args(as_torch(W, requires_grad=True))["__torch__"]["requires_grad"] is True
