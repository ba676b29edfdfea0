"""The data every workload runs on: a ``crmkit demo`` file per size, built once and cached.

The file name carries a fingerprint of the generator's source, so a changed generator builds a
new file instead of reusing a stale one.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

SEED = 7


def fingerprint() -> str:
    """Hash of the demo generator's source files, of the core's schema and of crmkit's version."""
    import crmkit
    import crmkit.demo
    import crmkit.migrations

    digest = hashlib.sha1(crmkit.__version__.encode())
    for source in sorted(Path(crmkit.demo.__file__).parent.glob("*.py")):
        digest.update(source.read_bytes())
    # A new migration changes the file a build makes; opening an older file would migrate it.
    digest.update(Path(crmkit.migrations.__file__).read_bytes())
    return digest.hexdigest()[:10]


def path_for(data_dir: Path, size: str) -> Path:
    return data_dir / f"demo-{size}-seed{SEED}-{fingerprint()}.db"


def build(path: Path, customers: int) -> dict:
    """Build the core-only demo file (no plugins, so every size is comparable)."""
    from crmkit import demo

    return demo.build(path, customers=customers, seed=SEED, replace=True, plugins=[])
