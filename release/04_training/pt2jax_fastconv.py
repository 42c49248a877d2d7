# Generated from src/pt2jax/kit/fastconv.py by `pt2jax build`: do not edit.
"""Drop-in convolution for ``nnx.Conv`` that avoids XLA:CPU's slow small-spatial path (issue 8).

XLA:CPU (jaxlib 0.10.2) runs a 3x3 convolution on a 2x2 (or 1x1) input some 50-150x slower than the
same work written as a matrix product, in the forward and in both backward convolutions. This module
writes such convolutions as strided slices of the padded input, concatenated along channels and
multiplied by the reshaped kernel ("im2col by slicing"), with a hand-written backward pass made of
the same pieces. It does so only on CPU, chosen at lowering time with ``lax.platform_dependent``,
and only for the cases it handles (2-D, no dilation, no groups, small spatial); everything else, and
every other platform, runs ``lax.conv_general_dilated`` unchanged.

Students opt in with one line::

    from pt2jax_fastconv import Conv   # then nnx.Conv(...) -> Conv(...), same arguments

or pass ``conv_general_dilated=conv_general_dilated`` to ``nnx.Conv`` themselves.

Shipped verbatim beside every released notebook as ``pt2jax_fastconv.py``: imports only jax, numpy
and the standard library (flax lazily, for ``Conv``).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

__all__ = ["MAX_FAST_SPATIAL", "Conv", "conv_general_dilated", "fast_path_applies", "slicing_conv"]  # noqa: F822

#: The fast path is taken when the input or the output is at most this large in every spatial axis.
#: XLA:CPU is slow on 1x1/2x2 inputs, and in the backward pass of a strided conv with a 2x2 output
#: (see docs/cpu_conv.md); from 3x3 up it is on par with the slicing form or faster.
MAX_FAST_SPATIAL = 2

Pads = tuple[tuple[int, int], tuple[int, int]]


def _same_pads(size: int, k: int, s: int) -> tuple[int, int]:
    """Padding lax uses for "SAME" along one axis (extra padding goes high)."""
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


def _explicit_pads(padding: Any, spatial: Sequence[int], window: Sequence[int],
                   strides: Sequence[int]) -> Pads | None:
    """Padding as ((lo, hi), (lo, hi)), or None where the fast path does not handle it."""
    if isinstance(padding, str):
        if padding.upper() == "VALID":
            return ((0, 0), (0, 0))
        if padding.upper() == "SAME":
            (h, w), (kh, kw), (sh, sw) = spatial, window, strides
            return (_same_pads(h, kh, sh), _same_pads(w, kw, sw))
        return None
    try:
        pairs = tuple((int(lo), int(hi)) for lo, hi in padding)
    except (TypeError, ValueError):
        return None
    if len(pairs) != 2 or any(p < 0 for pair in pairs for p in pair):
        return None
    return (pairs[0], pairs[1])


def _nhwc_conv(x: jax.Array, w: jax.Array, strides: tuple[int, int], pads: Pads,
               precision: Any, preferred_element_type: Any) -> jax.Array:
    """Forward convolution, NHWC x HWIO -> NHWC, as slices + one matrix product."""
    n, h, wd, c = x.shape
    kh, kw, _, o = w.shape
    (pt, pb), (pl, pr) = pads
    sh, sw = strides
    xp = jnp.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)))
    ho = (h + pt + pb - kh) // sh + 1
    wo = (wd + pl + pr - kw) // sw + 1
    cols = [lax.slice(xp, (0, i, j, 0), (n, i + (ho - 1) * sh + 1, j + (wo - 1) * sw + 1, c), (1, sh, sw, 1))
            for i in range(kh) for j in range(kw)]
    patches = cols[0] if len(cols) == 1 else jnp.concatenate(cols, axis=-1)
    y = lax.dot_general(patches.reshape(n * ho * wo, kh * kw * c), w.reshape(kh * kw * c, o),
                        (((1,), (0,)), ((), ())), precision=precision,
                        preferred_element_type=preferred_element_type)
    return y.reshape(n, ho, wo, o)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3, 4, 5))
def _nhwc_conv_vjp(x: jax.Array, w: jax.Array, strides: tuple[int, int], pads: Pads,
                   precision: Any, preferred_element_type: Any) -> jax.Array:
    return _nhwc_conv(x, w, strides, pads, precision, preferred_element_type)


def _fwd(x: jax.Array, w: jax.Array, strides: tuple[int, int], pads: Pads, precision: Any,
         preferred_element_type: Any) -> tuple[jax.Array, tuple[jax.Array, jax.Array]]:
    return _nhwc_conv(x, w, strides, pads, precision, preferred_element_type), (x, w)


def _bwd(strides: tuple[int, int], pads: Pads, precision: Any, preferred_element_type: Any,
         res: tuple[jax.Array, jax.Array], g: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Both gradients as matrix products; dx scatters the patch gradients back with pads."""
    x, w = res
    n, h, wd, c = x.shape
    kh, kw, _, o = w.shape
    (pt, pb), (pl, pr) = pads
    sh, sw = strides
    _, ho, wo, _ = g.shape
    xp = jnp.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)))
    hp, wp = h + pt + pb, wd + pl + pr
    cols = [lax.slice(xp, (0, i, j, 0), (n, i + (ho - 1) * sh + 1, j + (wo - 1) * sw + 1, c), (1, sh, sw, 1))
            for i in range(kh) for j in range(kw)]
    patches = (cols[0] if len(cols) == 1 else jnp.concatenate(cols, axis=-1)).reshape(n * ho * wo, kh * kw * c)
    g2 = g.reshape(n * ho * wo, o)
    dw = lax.dot_general(patches, g2.astype(patches.dtype), (((0,), (0,)), ((), ())), precision=precision)
    dpatches = lax.dot_general(g2.astype(w.dtype), w.reshape(kh * kw * c, o), (((1,), (1,)), ((), ())),
                               precision=precision).reshape(n, ho, wo, kh * kw, c)
    # Each patch gradient goes back to where its slice came from: an interior pad undoes the stride.
    dxp = jnp.zeros((n, hp, wp, c), dpatches.dtype)
    zero = jnp.zeros((), dpatches.dtype)
    for i in range(kh):
        for j in range(kw):
            part = dpatches[:, :, :, i * kw + j, :]
            hi_h = hp - i - (ho - 1) * sh - 1
            hi_w = wp - j - (wo - 1) * sw - 1
            dxp = dxp + lax.pad(part, zero, ((0, 0, 0), (i, hi_h, sh - 1), (j, hi_w, sw - 1), (0, 0, 0)))
    dx = dxp[:, pt:pt + h, pl:pl + wd, :]
    return dx.astype(x.dtype), dw.reshape(w.shape).astype(w.dtype)


_nhwc_conv_vjp.defvjp(_fwd, _bwd)


def slicing_conv(lhs: jax.Array, rhs: jax.Array, window_strides: Sequence[int], padding: Any,
                 dimension_numbers: Any = None, precision: Any = None,
                 preferred_element_type: Any = None) -> jax.Array:
    """The fast formulation on every platform (no platform switch); 2-D, undilated, ungrouped only."""
    dn = lax.conv_dimension_numbers(lhs.shape, rhs.shape, dimension_numbers)
    if len(dn.lhs_spec) != 4:
        raise ValueError("slicing_conv handles 2-D convolutions only")
    ls, rs, os_ = dn.lhs_spec, dn.rhs_spec, dn.out_spec
    x = _transpose(lhs, (ls[0], ls[2], ls[3], ls[1]))
    w = _transpose(rhs, (rs[2], rs[3], rs[1], rs[0]))
    strides = (int(window_strides[0]), int(window_strides[1]))
    pads = _explicit_pads(padding, x.shape[1:3], w.shape[:2], strides)
    if pads is None:
        raise ValueError(f"slicing_conv does not handle padding {padding!r}")
    y = _nhwc_conv_vjp(x, w, strides, pads, precision, preferred_element_type)
    return _transpose(y, tuple(int(a) for a in np.argsort((os_[0], os_[2], os_[3], os_[1]))))


def _transpose(a: jax.Array, perm: tuple[int, ...]) -> jax.Array:
    return a if perm == tuple(range(a.ndim)) else jnp.transpose(a, perm)


def fast_path_applies(lhs_shape: Sequence[int], rhs_shape: Sequence[int], window_strides: Sequence[int],
                      padding: Any, lhs_dilation: Sequence[int] | None = None,
                      rhs_dilation: Sequence[int] | None = None, dimension_numbers: Any = None,
                      feature_group_count: int = 1, batch_group_count: int = 1) -> bool:
    """Whether :func:`conv_general_dilated` takes the slicing form on CPU for these arguments."""
    if len(lhs_shape) != 4 or feature_group_count != 1 or batch_group_count != 1:
        return False
    if any(d != 1 for d in (lhs_dilation or ())) or any(d != 1 for d in (rhs_dilation or ())):
        return False
    try:  # symbolic (shape-polymorphic) dimensions do not convert to int: keep lax for those
        dn = lax.conv_dimension_numbers(tuple(lhs_shape), tuple(rhs_shape), dimension_numbers)
        spatial = [int(lhs_shape[d]) for d in dn.lhs_spec[2:]]
        window = [int(rhs_shape[d]) for d in dn.rhs_spec[2:]]
    except Exception:
        return False
    if len(window_strides) != 2:
        return False
    pads = _explicit_pads(padding, spatial, window, window_strides)
    if pads is None or any(size + lo + hi < k for size, (lo, hi), k in zip(spatial, pads, window, strict=True)):
        return False
    out = [(size + lo + hi - k) // s + 1 for size, (lo, hi), k, s in zip(spatial, pads, window, window_strides,
                                                                            strict=True)]
    return max(spatial) <= MAX_FAST_SPATIAL or max(out) <= MAX_FAST_SPATIAL


def conv_general_dilated(lhs: jax.Array, rhs: jax.Array, window_strides: Sequence[int], padding: Any,
                         lhs_dilation: Sequence[int] | None = None, rhs_dilation: Sequence[int] | None = None,
                         dimension_numbers: Any = None, feature_group_count: int = 1, batch_group_count: int = 1,
                         precision: Any = None, preferred_element_type: Any = None,
                         out_sharding: Any = None) -> jax.Array:
    """``lax.conv_general_dilated`` with the same signature; on CPU, small 2-D cases take the slicing form."""
    sharding = {} if out_sharding is None else {"out_sharding": out_sharding}

    def lax_conv(a: jax.Array, b: jax.Array) -> jax.Array:
        return lax.conv_general_dilated(
            a, b, window_strides, padding, lhs_dilation=lhs_dilation, rhs_dilation=rhs_dilation,
            dimension_numbers=dimension_numbers, feature_group_count=feature_group_count,
            batch_group_count=batch_group_count, precision=precision, preferred_element_type=preferred_element_type,
            **sharding)

    if out_sharding is not None or jnp.result_type(lhs) != jnp.result_type(rhs) or not fast_path_applies(
            np.shape(lhs), np.shape(rhs), window_strides, padding, lhs_dilation, rhs_dilation, dimension_numbers,
            feature_group_count, batch_group_count):
        return lax_conv(lhs, rhs)
    fast = functools.partial(slicing_conv, window_strides=window_strides, padding=padding,
                             dimension_numbers=dimension_numbers, precision=precision,
                             preferred_element_type=preferred_element_type)
    return lax.platform_dependent(lhs, rhs, cpu=fast, default=lax_conv)


def _make_conv_class() -> type:
    """``nnx.Conv`` whose default convolution is :func:`conv_general_dilated` (built on first use)."""
    from flax import nnx

    class Conv(nnx.Conv):
        """``nnx.Conv`` with the same arguments, defaulting to this module's ``conv_general_dilated``."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs.setdefault("conv_general_dilated", conv_general_dilated)
            super().__init__(*args, **kwargs)

    Conv.__module__, Conv.__qualname__ = __name__, "Conv"
    return Conv


def __getattr__(name: str) -> Any:
    # `Conv` is built lazily so that importing this module does not import flax.
    if name == "Conv":
        cls = _make_conv_class()
        globals()["Conv"] = cls
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
