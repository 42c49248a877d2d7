"""Hidden checks for 01_arrays exercise 11: committed and uncommitted arrays on two CPU devices."""

import re

import numpy as np
import torch

from pt2jax.checks import StudentArray, as_jax, expect, expect_array, graded


def _device_id(got):
    """The id of the single CPU device a returned array lives on, or None."""
    match = re.fullmatch(r"(?:cpu|TFRT_CPU)[:_](\d+)", got.device or "")
    return int(match.group(1)) if match else None


def _expect_on(got, device, what):
    expect(isinstance(got, StudentArray) and got.kind == "jax.Array",
           f"{what} should be a jax.Array.")
    expect(_device_id(got) == device and got.committed is True,
           f"{what} should be committed to jax.devices('cpu')[{device}]; it is on {got.device}"
           f" ({'committed' if got.committed else 'uncommitted'}).", hint="committed_device")


def _values(rng):
    shape = tuple(int(n) for n in rng.integers(2, 6, size=int(rng.integers(1, 3))))
    return rng.normal(size=shape).astype(np.float32), rng.normal(size=shape).astype(np.float32)


@graded("ex11_devices_check", points=1)
def test_to_device_commits(student, rng):
    """to_device(x, i) returns x's values committed to CPU device i (i = 1, then 0)."""
    values, _ = _values(rng)
    for device in (1, 0):
        got = student.call("to_device", as_jax(values), device)
        expect_array(got, torch.from_numpy(values), what=f"to_device(x, {device})")
        _expect_on(got, device, f"to_device(x, {device})")


@graded("ex11_devices_check", points=1)
def test_add_across_committed_devices(student, rng):
    """a + b where a and b are committed to different devices runs on a's device."""
    a, b = _values(rng)
    want = torch.from_numpy(a) + torch.from_numpy(b)
    for dev_a, dev_b in ((1, 0), (0, 1)):
        got = student.call("add_on_first", as_jax(a, device=dev_a), as_jax(b, device=dev_b))
        what = f"add_on_first(a on cpu:{dev_a}, b on cpu:{dev_b})"
        expect_array(got, want, what=what)
        _expect_on(got, dev_a, what)


@graded("ex11_devices_check", points=1)
def test_add_with_uncommitted_partner(student, rng):
    """a committed to device 1 plus an uncommitted b gives a result committed to device 1."""
    a, b = _values(rng)
    got = student.call("add_on_first", as_jax(a, device=1), as_jax(b))
    what = "add_on_first(a on cpu:1, b uncommitted)"
    expect_array(got, torch.from_numpy(a) + torch.from_numpy(b), what=what)
    _expect_on(got, 1, what)
