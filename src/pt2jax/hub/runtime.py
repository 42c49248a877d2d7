"""A Python environment that every account on the hub can run.

The project's virtualenv is built on an interpreter under ``/root`` (pyenv), which no other user may
enter. Each user's server, the formgrader service and the sandboxed kernels need the same packages
from a world-readable interpreter: ``build/hub/venv`` is a virtualenv of the system's Python of the
same minor version (Debian's ``/usr/bin/python3.11``) whose ``site-packages`` are hard links to the
project venv's (no copy, seconds to make) and whose scripts start with its own interpreter. A
deployment installs its environment world-readable in the first place (``/opt/pt2jax``,
docs/deploy.md) and needs none of this.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

__all__ = ["ensure_runtime", "runtime_python"]

STAMP = ".pt2jax-runtime"


def _site_packages(venv: Path) -> Path:
    return venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"


def _system_python() -> Path:
    """The system interpreter of this Python's minor version (outside any user's home)."""
    name = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for folder in ("/usr/bin", "/usr/local/bin"):
        candidate = Path(folder) / name
        if candidate.exists():
            return candidate
    raise RuntimeError(f"no system {name} in /usr/bin or /usr/local/bin: install it (apt-get install {name}-venv)")


def _key(venv: Path, python: Path) -> str:
    """What the runtime was made from: the interpreter and every installed distribution's name."""
    entries = sorted(os.listdir(_site_packages(venv)))
    digest = hashlib.sha256("\n".join([str(python), str(venv), *entries]).encode())
    return digest.hexdigest()


def runtime_python(dest: Path) -> Path:
    """The interpreter of the runtime at ``dest``."""
    return dest / "bin" / "python"


def ensure_runtime(dest: Path, venv: Path | None = None, python: Path | None = None) -> Path:
    """Make (or keep, when it is current) the world-runnable copy of ``venv`` at ``dest``; return its python."""
    venv = venv or Path(sys.prefix)
    python = python or _system_python()
    key = _key(venv, python)
    stamp = dest / STAMP
    if stamp.exists() and stamp.read_text() == key:
        return runtime_python(dest)
    if dest.exists():
        shutil.rmtree(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([str(python), "-m", "venv", "--without-pip", str(dest)], check=True)
    site = _site_packages(dest)
    shutil.rmtree(site)
    # hard links: same files, no copy (the build folder and the venv share a filesystem)
    subprocess.run(["cp", "-al", str(_site_packages(venv)), str(site)], check=True)
    old_shebang = f"#!{venv}/bin/python".encode()
    new_shebang = f"#!{dest}/bin/python".encode()
    for script in sorted((venv / "bin").iterdir()):
        target = dest / "bin" / script.name
        if target.exists() or target.is_symlink() or script.is_symlink() or not script.is_file():
            continue
        data = script.read_bytes()
        if data.startswith(old_shebang):
            first, _, rest = data.partition(b"\n")
            target.write_bytes(new_shebang + first[len(old_shebang):] + b"\n" + rest)
            target.chmod(0o755)
        elif not data.startswith(b"#!"):  # binaries (ruff): the same file
            os.link(script, target)
    for path in (dest, *dest.parents):  # every account must reach it
        if path == Path("/"):
            break
        mode = path.stat().st_mode
        if not mode & stat.S_IXOTH:
            raise RuntimeError(f"{path} is not searchable by other users: the hub's accounts cannot run {dest}")
    stamp.write_text(key)
    return runtime_python(dest)
