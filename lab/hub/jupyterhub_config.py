"""JupyterHub configuration of the pt2jax class (`make hub`; docs/deploy.md).

Everything is set by pt2jax.hub.config.configure from the settings file named by
$PT2JAX_HUB_SETTINGS (written by `python -m pt2jax.hub`, or by tests/test_hub.py).
"""

from pt2jax.hub.config import configure, load_settings

c = get_config()  # noqa: F821  (injected by JupyterHub)
configure(c, load_settings())
