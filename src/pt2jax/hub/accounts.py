"""The hub's accounts: an instructor and two students who log in (real Unix users, checked by PAM),
and the grader account that owns the course and runs the formgrader service (it never logs in).

Passwords are generated the first time an account is made (or when none is on record), set with
``chpasswd``, printed once by ``make hub`` and kept in a root-only file. An existing Unix account
that this module did not make (its GECOS field lacks :data:`MARK`) is never touched.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["GRADERS_GROUP", "MARK", "Accounts", "ensure_accounts", "uid_of"]

MARK = "pt2jax demo account"
# Every course's grader account is in this group; the delegated cgroup subtree belongs to it.
GRADERS_GROUP = "pt2jax-graders"


@dataclass(frozen=True)
class Accounts:
    """The names of one hub's accounts (``make hub``: ``pt2jax-``; the browser test: its own prefix)."""

    prefix: str = "pt2jax-"

    @property
    def instructor(self) -> str:
        return f"{self.prefix}instructor"

    @property
    def students(self) -> tuple[str, str]:
        return (f"{self.prefix}alice", f"{self.prefix}bob")

    @property
    def grader(self) -> str:
        return f"{self.prefix}grader"

    @property
    def logins(self) -> tuple[str, ...]:
        return (self.instructor, *self.students)


def uid_of(name: str) -> int:
    return pwd.getpwnam(name).pw_uid


def _exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _ensure_group(name: str) -> None:
    try:
        grp.getgrnam(name)
    except KeyError:
        subprocess.run(["groupadd", "--system", name], check=True)


def _ensure_user(name: str, *, login: bool, groups: tuple[str, ...] = ()) -> bool:
    """Make the Unix account ``name`` unless it exists; True when made now."""
    made = False
    if _exists(name):
        gecos = pwd.getpwnam(name).pw_gecos
        if MARK not in gecos:
            raise RuntimeError(f"a Unix account {name!r} exists that pt2jax did not make ({gecos!r}): not touching it")
    else:
        cmd = ["useradd", "--create-home", "--user-group", "--comment", f"{MARK}{'' if login else ' (grader)'}",
               "--shell", "/bin/bash" if login else "/usr/sbin/nologin"]
        subprocess.run([*cmd, name], check=True)
        made = True
    for group in groups:
        if name not in grp.getgrnam(group).gr_mem:
            subprocess.run(["usermod", "--append", "--groups", group, name], check=True)
    home = Path(pwd.getpwnam(name).pw_dir)
    home.chmod(0o700)  # nobody else reads a student's work (Debian's useradd leaves 0755 at times)
    return made


def ensure_accounts(accounts: Accounts, secrets_file: Path) -> dict[str, str]:
    """Make the accounts (as root); return the passwords generated *now* (empty when all were on record)."""
    if os.geteuid() != 0:
        raise RuntimeError("the hub's accounts are real Unix users: run as root")
    _ensure_group(GRADERS_GROUP)
    _ensure_user(accounts.grader, login=False, groups=(GRADERS_GROUP,))
    stored: dict[str, str] = json.loads(secrets_file.read_text()) if secrets_file.exists() else {}
    fresh: dict[str, str] = {}
    for name in accounts.logins:
        made = _ensure_user(name, login=True)
        if made or name not in stored:
            fresh[name] = secrets.token_urlsafe(12)
    if fresh:
        lines = "".join(f"{name}:{password}\n" for name, password in fresh.items())
        subprocess.run(["chpasswd"], input=lines, text=True, check=True)
        stored.update(fresh)
        secrets_file.parent.mkdir(parents=True, exist_ok=True)
        secrets_file.parent.chmod(0o700)
        tmp = secrets_file.with_suffix(".tmp")
        tmp.touch(mode=0o600)
        tmp.chmod(0o600)
        tmp.write_text(json.dumps(stored, indent=1))
        tmp.replace(secrets_file)
    return fresh


def passwords(secrets_file: Path) -> dict[str, str]:
    """The passwords on record (root only)."""
    return dict(json.loads(secrets_file.read_text()))
