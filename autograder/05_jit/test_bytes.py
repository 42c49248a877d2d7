"""Hidden checks for exercise 8 of 05_jit: bytes moved by the eager and the fused chain."""

import numpy as np

from pt2jax.checks import expect, expect_tuple, fail, graded

_ITEMSIZE = {"float32": 4, "bfloat16": 2, "float16": 2, "int8": 1, "float64": 8}


def _bytes(student, shape, dtype):
    got = expect_tuple(student.call("bytes_moved", tuple(shape), dtype), 2, f"bytes_moved({shape}, {dtype!r})")
    if not all(type(v) is int for v in got):
        fail(f"bytes_moved({shape}, {dtype!r}) should return two Python ints; it returned"
             f" {', '.join(type(v).__name__ for v in got)}.", "python_scalar")
    n = int(np.prod(shape)) * _ITEMSIZE[dtype]
    return got, (8 * n, 3 * n)


def _explain(got, want, shape, dtype):
    return (f"bytes_moved({shape}, {dtype!r}) returned {got}; expected {want}: the eager chain makes 8 array"
            " transfers (x * y reads two and writes one, relu reads one and writes one, + x reads two and writes"
            " one), the fused one 3 (read x and y, write the result), each of prod(shape) * itemsize bytes.")


@graded("ex08_bytes_check", points=1)
def test_bytes_float32(student, rng):
    """8 and 3 array transfers for float32 inputs of a grade-time shape."""
    shape = tuple(int(n) for n in rng.integers(100, 4000, size=int(rng.integers(1, 4))))
    got, want = _bytes(student, shape, "float32")
    expect(got == want, _explain(got, want, shape, "float32"))


@graded("ex08_bytes_check", points=1)
def test_bytes_other_dtypes(student, rng):
    """The element size follows the dtype (bfloat16, float16, int8)."""
    for dtype in ("bfloat16", "float16", "int8"):
        shape = tuple(int(n) for n in rng.integers(2, 500, size=2))
        got, want = _bytes(student, shape, dtype)
        expect(got == want, _explain(got, want, shape, dtype))
