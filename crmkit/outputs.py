"""Where crmkit writes a file a user asked for (an export, a report, a list of problems).

Never over a database: a typo that names the CRM file itself (``crmkit export shop.db
shop.db``) must not replace the CRM with a CSV. Every command that writes a file checks its path
here before it reads or writes anything.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from .engine.files import overwrites_database
from .errors import CrmError

if TYPE_CHECKING:
    from .crm import CRM


def check_output(crm: "CRM", path: str | os.PathLike, what: str) -> Path:
    """``path`` as a :class:`~pathlib.Path`, once it is known to be a file crmkit may write:
    in a folder that exists, not a folder itself, and not a database (the CRM's own file or one
    of its companions, or any other SQLite file). Otherwise :class:`~crmkit.CrmError` naming
    ``what`` (``"--report"``, ``"the export"``)."""
    path = Path(path)
    if not path.parent.expanduser().is_dir():
        raise CrmError(f"{what}: cannot write {path}: folder {path.parent} does not exist")
    if path.is_dir():
        raise CrmError(f"{what}: {path} is a folder; name a file")
    if overwrites_database(path, crm.db.target):
        raise CrmError(f"{what}: {path} is a database (the CRM file or another); writing there would destroy it, so choose another file name")
    return path
