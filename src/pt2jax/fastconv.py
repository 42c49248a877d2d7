"""Drop-in convolution for ``nnx.Conv`` that avoids XLA:CPU's slow small-spatial path (issue 8).

Shipped verbatim beside every released notebook as ``pt2jax_fastconv.py``: imports only jax and numpy.
PLACEHOLDER until issue 8 lands: falls back to ``lax.conv_general_dilated`` everywhere.
"""

from __future__ import annotations

from jax import lax

__all__ = ["conv_general_dilated"]

conv_general_dilated = lax.conv_general_dilated
