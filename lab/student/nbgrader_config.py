"""nbgrader configuration of a student's JupyterLab (`make lab-student`): fetch, validate, submit.

Loaded from this folder because `make lab-student` puts it on JUPYTER_CONFIG_PATH. A student's
notebooks live in their own workspace folder, never in the course directory.
"""

import os

c = get_config()  # noqa: F821  (injected by nbgrader)
repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

c.CourseDirectory.course_id = "pt2jax"
# the same exchange as the instructor's nbgrader_config.py
c.Exchange.root = os.environ.get("PT2JAX_EXCHANGE") or os.path.join(repo, "exchange")
# Validate runs the notebook in the student's kernel: importing torch and JAX takes longer than
# nbgrader's 30 s default; the grader's own per-cell limit is 120 s (pyproject.toml [tool.pt2jax]).
c.Execute.timeout = 120
