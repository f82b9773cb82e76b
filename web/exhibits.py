"""The visit evidence a case refers to, for the people who check it (DESIGN §8, §10).

The case holds a note per photo or recording ("evidence: photo image/jpeg, 1234 bytes, sha256
…"); the file is sealed under the borrower's key. Supervisors, auditors and admins may open
one: each opening is logged with who opened which file of which case (never what it shows),
and after erasure there is nothing left to open.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from activities.vault import files
from models import case as c
from models.common import Role
from web.evidence import NOTE_PATTERN

OPENERS = frozenset({Role.SUPERVISOR, Role.AUDITOR, Role.ADMIN})


@dataclass(frozen=True)
class Exhibit:
    sha256: str
    kind: str
    media_type: str
    size: int
    by: str
    visit_no: int | None


def exhibits(view: c.CaseView) -> list[Exhibit]:
    """Each evidence note on the case, once per file, in the order they were added."""
    found: dict[str, Exhibit] = {}
    for note in view.notes:
        match = NOTE_PATTERN.search(note.text)
        if match is None or match["sha"] in found:
            continue
        visit = int(match["visit"]) if match["visit"] else None
        found[match["sha"]] = Exhibit(
            match["sha"], match["kind"], match["media"], int(match["size"]), note.actor.id, visit
        )
    return list(found.values())


def sealed_file(data_dir: Path, borrower_id: str, sha256: str) -> Path | None:
    """The sealed file of one exhibit, whatever its extension; None when it is not kept."""
    folder = files.borrower_folder(data_dir, borrower_id)
    return next(iter(sorted(folder.glob(f"{sha256}.*{files.SEALED_SUFFIX}"))), None)
