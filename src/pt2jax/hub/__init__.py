"""A class on JupyterHub (docs/deploy.md): the Python environment every account can run
(:mod:`.runtime`), the demo accounts and their generated passwords (:mod:`.accounts`), what the
non-root grader is granted (the exchange and a delegated cgroup subtree, :mod:`.grants`), the hub's
settings (:mod:`.config`, read by ``lab/hub/jupyterhub_config.py``) and ``make hub``
(:mod:`.__main__`).

Nothing here is imported by grading or by nbgrader commands; the hub process (root) and the tests use it.
"""
