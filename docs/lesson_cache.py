"""Where an executed lesson is kept, shared by the site build (``docs/hooks.py``) and the lesson
tests (``tests/test_lessons.py``): a lesson the tests ran in the small setting is the page the site
shows, so CI runs each lesson once.  The key is the notebook's bytes and the library's sources, so a
change to either runs the lesson again.  Plain Python (no mkdocs), loaded by file path."""

from __future__ import annotations

import hashlib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / ".cache" / "docs-lessons"


def sources_hash() -> str:
    """A short hash of every ``minivae/**/*.py``: what a lesson's outputs depend on."""
    digest = hashlib.sha256()
    for path in sorted((REPO / "minivae").rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def cached_path(path: Path, lib_hash: str) -> Path:
    """The executed copy of lesson ``path`` for the library state ``lib_hash``."""
    key = hashlib.sha256(path.read_bytes() + lib_hash.encode()).hexdigest()[:16]
    return CACHE / f"{path.stem}-{key}" / path.name
