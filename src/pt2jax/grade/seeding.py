"""Grade-time randomness: one seed per (course secret, student, assignment, check)."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from pathlib import Path

__all__ = ["base_seed", "check_seed", "course_secret"]

SECRET_FILE = ".pt2jax_secret"


def course_secret(root: Path) -> str:
    """The course secret: $PT2JAX_SECRET, else ``root/.pt2jax_secret`` (created, mode 600)."""
    env = os.environ.get("PT2JAX_SECRET")
    if env:
        return env
    path = root / SECRET_FILE
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32) + "\n")
    return path.read_text().strip()


def base_seed(secret: str) -> int:
    """A 63-bit integer standing for the secret (reported in grade JSON instead of the secret)."""
    return int.from_bytes(hashlib.sha256(b"pt2jax-base|" + secret.encode()).digest()[:8]) >> 1


def check_seed(base: int, student: str, assignment: str, check: str) -> int:
    """Seed of one check for one student: different per student, identical on regrade."""
    text = json.dumps([base, student, assignment, check]).encode()  # unambiguous joining
    return int.from_bytes(hashlib.sha256(text).digest()[:8]) >> 1
