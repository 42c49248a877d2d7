"""The hub's settings (:class:`HubSettings`, a JSON file named by ``$PT2JAX_HUB_SETTINGS``) and what they
mean for JupyterHub (:func:`configure`, called by ``lab/hub/jupyterhub_config.py``).

* Login: PAM (the accounts are real Unix users); the spawner: ``LocalProcessSpawner``, so each user's
  server runs as that user, in their own 0700 home: the kernel's permission checks keep students apart.
* Every user's server gets the student's Lab configuration (``lab/student``: fetch, validate, submit;
  no formgrader).
* The course is a hub-managed service (``/services/<course>/``): ``jupyterhub-singleuser`` as the grader
  account in the course directory, with the instructor's Lab configuration (``lab/instructor``); only
  the ``formgrade-<course>`` group may open it (nbgrader's convention for hub courses).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .accounts import Accounts

__all__ = ["HubSettings", "configure", "load_settings"]

SETTINGS_ENV = "PT2JAX_HUB_SETTINGS"


@dataclass
class HubSettings:
    """Where everything of one hub lives, and its ports (all on loopback)."""

    repo: str
    state: str  # root-only: the hub's database, cookie secret, passwords
    runtime: str  # the world-runnable virtualenv (pt2jax.hub.runtime)
    proxy: str  # configurable-http-proxy
    course: str  # the course directory the formgrader service serves ("" = <grader's home>/<course_id>)
    exchange: str
    course_id: str = "pt2jax"
    prefix: str = "pt2jax-"
    port: int = 8000
    hub_port: int = 8081
    proxy_api_port: int = 8001
    service_port: int = 9999
    spawn_timeout_s: int = 240
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def accounts(self) -> Accounts:
        return Accounts(self.prefix)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def passwords_file(self) -> Path:
        return Path(self.state) / "passwords.json"

    def write(self, path: Path) -> Path:
        path.write_text(json.dumps(asdict(self), indent=1))
        return path


def load_settings(path: str | os.PathLike[str] | None = None) -> HubSettings:
    """The settings in ``path`` (default ``$PT2JAX_HUB_SETTINGS``)."""
    path = path or os.environ.get(SETTINGS_ENV)
    if not path:
        raise RuntimeError(f"${SETTINGS_ENV} names no settings file: start the hub with `make hub`")
    return HubSettings(**json.loads(Path(path).read_text()))


def _server_env(s: HubSettings, role: str) -> dict[str, str]:
    runtime = Path(s.runtime)
    return {
        "JUPYTER_CONFIG_PATH": str(Path(s.repo) / "lab" / role),
        "PT2JAX_EXCHANGE": s.exchange,
        "PATH": f"{runtime / 'bin'}:/usr/local/bin:/usr/bin:/bin",
        "VIRTUAL_ENV": str(runtime),
        "JUPYTER_PLATFORM_DIRS": "1",
        "PYTHONUNBUFFERED": "1",
    }


def configure(c: Any, s: HubSettings) -> None:
    """Set JupyterHub's configuration ``c`` from ``s``."""
    acc = s.accounts
    python = str(Path(s.runtime) / "bin" / "python")
    lab = Path(s.repo) / "lab"
    state = Path(s.state)

    c.JupyterHub.ip = "127.0.0.1"
    c.JupyterHub.port = s.port
    c.JupyterHub.hub_ip = "127.0.0.1"
    c.JupyterHub.hub_port = s.hub_port
    c.ConfigurableHTTPProxy.command = [s.proxy]
    c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{s.proxy_api_port}"
    c.JupyterHub.db_url = f"sqlite:///{state / 'jupyterhub.sqlite'}"
    c.JupyterHub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")
    c.JupyterHub.pid_file = str(state / "jupyterhub.pid")

    c.JupyterHub.authenticator_class = "pam"
    c.PAMAuthenticator.open_sessions = False  # no login sessions (systemd-logind) for web logins
    c.Authenticator.allowed_users = set(acc.logins)

    c.JupyterHub.spawner_class = "localprocess"
    c.Spawner.cmd = [python, "-m", "jupyterhub.singleuser"]
    c.Spawner.args = [f"--LabApp.app_settings_dir={lab / 'student' / 'settings'}"]
    c.Spawner.default_url = "/lab"
    c.Spawner.notebook_dir = "~"
    c.Spawner.environment = _server_env(s, "student")
    c.Spawner.start_timeout = s.spawn_timeout_s
    c.Spawner.http_timeout = s.spawn_timeout_s

    course, formgrade = s.course_id, f"formgrade-{s.course_id}"
    service_env = _server_env(s, "instructor")
    service_env["JUPYTERHUB_DEFAULT_URL"] = "/formgrader"
    c.JupyterHub.services = [{
        "name": course,
        "url": f"http://127.0.0.1:{s.service_port}",
        "command": [python, "-m", "jupyterhub.singleuser", f"--ServerApp.root_dir={s.course}",
                    f"--LabApp.app_settings_dir={lab / 'instructor' / 'settings'}"],
        "user": acc.grader,
        "cwd": s.course,
        "environment": service_env,
        "oauth_no_confirm": True,
        "display": True,
        "info": {"course": course},
    }]
    c.JupyterHub.load_groups = {
        formgrade: {"users": [acc.instructor]},
        f"nbgrader-{course}": {"users": list(acc.students)},
    }
    c.JupyterHub.load_roles = [
        {"name": formgrade, "groups": [formgrade], "scopes": [f"access:services!service={course}"]},
    ]

    def default_url(handler: Any) -> str:
        user = handler.current_user
        if user is not None and any(g.name == formgrade for g in user.groups):
            return f"/services/{course}/formgrader"
        return "/hub/spawn"

    c.JupyterHub.default_url = default_url
