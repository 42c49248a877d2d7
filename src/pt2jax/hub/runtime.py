"""A Python environment that every account on the hub can run.

The project's virtualenv is built on an interpreter under ``/root`` (pyenv), which no other user may
enter. Each user's server, the formgrader service and the sandboxed kernels need the same packages
from a world-readable interpreter: ``build/hub/python`` is the same interpreter (hard links; its
executable copied, its library path made relative), and ``build/hub/venv`` a virtualenv of it whose
``site-packages``, ``etc/`` and ``share/`` are hard links to the project venv's (no copy, seconds to
make) and whose scripts start with its own interpreter. The *same* interpreter, not the system's
Python of the same minor version: Debian's 3.11.2 mis-handles the possessive quantifiers soupsieve
uses (nbconvert's HTML export, hence feedback, fails). A deployment installs its environment
world-readable in the first place (``/opt/pt2jax``, docs/deploy.md) and needs none of this.
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


def _reachable(path: Path) -> bool:
    """Whether every other user can reach ``path`` (each folder above it searchable)."""
    return all(p.stat().st_mode & stat.S_IXOTH for p in (path, *path.parents) if p.is_dir())


def _interpreter(dest: Path) -> Path:
    """This interpreter, where every account can run it: where it is, or a copy at ``dest``."""
    base = Path(sys.base_prefix).resolve()
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    if _reachable(base):
        return base / "bin" / version
    if dest.exists():
        shutil.rmtree(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cp", "-al", str(base), str(dest)], check=True)
    shutil.rmtree(dest / "lib" / version / "site-packages")  # its own packages: not the venv's
    exe = dest / "bin" / version
    data = (base / "bin" / version).read_bytes()
    exe.unlink()  # a hard link: patch a copy, never the original
    old = f"{base}/lib".encode() + b"\0"
    new = b"$ORIGIN/../lib"
    if data.count(old) == 1:  # RUNPATH pointing at the unreachable lib/: made relative, padded in place
        data = data.replace(old, new + b"\0" * (len(old) - len(new)))
    exe.write_bytes(data)
    exe.chmod(0o755)
    return exe


def _key(venv: Path, python: Path) -> str:
    """What the runtime was made from: the interpreter and every installed distribution's name."""
    entries = sorted(os.listdir(_site_packages(venv)))
    digest = hashlib.sha256("\n".join([str(python), str(venv), "etc+share", *entries]).encode())
    return digest.hexdigest()


def runtime_python(dest: Path) -> Path:
    """The interpreter of the runtime at ``dest``."""
    return dest / "bin" / "python"


def ensure_runtime(dest: Path, venv: Path | None = None) -> Path:
    """Make (or keep, when it is current) the world-runnable copy of ``venv`` at ``dest``; return its python.
    The interpreter, when it must be copied, goes beside it (``<dest>/../python``)."""
    venv = venv or Path(sys.prefix)
    key = _key(venv, Path(sys.base_prefix).resolve())
    stamp = dest / STAMP
    if stamp.exists() and stamp.read_text() == key:
        return runtime_python(dest)
    if dest.exists():
        shutil.rmtree(dest)
    python = _interpreter(dest.parent / "python")
    subprocess.run([str(python), "-m", "venv", "--without-pip", str(dest)], check=True)
    site = _site_packages(dest)
    shutil.rmtree(site)
    # hard links: same files, no copy (the build folder and the venv share a filesystem); etc/ and
    # share/ hold Jupyter's server extensions (nbgrader's formgrader), lab extensions and kernel specs
    subprocess.run(["cp", "-al", str(_site_packages(venv)), str(site)], check=True)
    for extra in ("etc", "share"):
        if (venv / extra).is_dir():
            subprocess.run(["cp", "-al", str(venv / extra), str(dest / extra)], check=True)
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
    if not _reachable(dest):
        raise RuntimeError(f"a folder above {dest} is not searchable by other users: the hub's accounts cannot run it")
    stamp.write_text(key)
    return runtime_python(dest)
