"""What the non-root grader is granted so that grading stays sandboxed (docs/deploy.md).

The formgrader service runs as the course's grader account, not root. bubblewrap needs nothing from
root (an unprivileged user namespace maps the sandbox's ``nobody`` to the grader account), but cgroup v1
groups can only be made where the grader may write: root makes ``/sys/fs/cgroup/{memory,pids}/pt2jax``
(the folder :mod:`pt2jax.grade.sandbox` puts each submission's group in) owned by
:data:`~.accounts.GRADERS_GROUP` and group-writable. Each submission's group is then made by the
grader and belongs to it (cgroup v1 gives a new group's files to its creator), so it can set that
group's limits and enter it, but not raise the parent's. Without the grant, the sandbox probe fails
and grading refuses: nothing falls back to running unsandboxed.
"""

from __future__ import annotations

import grp
import os
from pathlib import Path

from ..grade.sandbox import CGROUP_ROOT

__all__ = ["CONTROLLERS", "delegate_cgroups", "ensure_exchange"]

CONTROLLERS = ("memory", "pids")


def delegate_cgroups(group: str, root: Path = CGROUP_ROOT) -> list[Path]:
    """Give ``group`` the right to make cgroups under ``<root>/<controller>/pt2jax`` (as root)."""
    gid = grp.getgrnam(group).gr_gid
    made = []
    for controller in CONTROLLERS:
        parent = root / controller / "pt2jax"
        parent.mkdir(exist_ok=True)
        os.chown(parent, 0, gid)
        parent.chmod(0o775)
        made.append(parent)
    return made


def ensure_exchange(path: Path) -> Path:
    """nbgrader's exchange root: world-writable (as nbgrader checks) with the sticky bit, so no one
    removes what another made; the course's folders in it are made by the grader on release
    (``inbound`` is write-only for students: each submission's name ends in a random string)."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o1777)
    return path
