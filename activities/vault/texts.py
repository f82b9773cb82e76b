"""Free text sealed under the borrower's key; Temporal carries only ``text:<id>``.

Operator notes, inbound SMS, hardship, dispute and visit notes may name people, places and
illnesses. The API seals them here before an action reaches the case, and whoever shows them
(the timeline, the screens) opens them again while the borrower's key exists: after erasure a
reference reads ``[erased]`` and the record around it (who, when, which action) stays.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable

from sqlmodel import col, select

from activities.vault import crypto
from activities.vault.store import Vault
from models.vault_tables import SealedText

PREFIX = "text:"
ERASED = "[erased]"
_REF = re.compile(r"text:[0-9a-f]{32}")


def is_ref(value: str) -> bool:
    return bool(_REF.fullmatch(value))


def _purpose(ref_id: str, borrower_id: str) -> str:
    return f"text:{ref_id}:{borrower_id}"


async def seal_text(vault: Vault, borrower_id: str, case_id: str, kind: str, text: str) -> str:
    """Store ``text`` sealed and return its reference."""
    ref_id = uuid.uuid4().hex
    async with vault.db.session() as session:
        dek = await vault.data_key(session, borrower_id, create=True)
        if dek is None:
            raise crypto.VaultError(f"no data key for borrower {borrower_id}")
        session.add(
            SealedText(
                id=ref_id,
                borrower_id=borrower_id,
                case_id=case_id,
                kind=kind,
                sealed=crypto.seal(dek, text, _purpose(ref_id, borrower_id)),
            )
        )
        await session.commit()
    return PREFIX + ref_id


async def open_texts(vault: Vault, refs: Iterable[str]) -> dict[str, str]:
    """Each reference's text, or ``[erased]`` once its key or row is gone."""
    wanted = {ref.removeprefix(PREFIX) for ref in refs if is_ref(ref)}
    if not wanted:
        return {}
    found: dict[str, str] = {}
    async with vault.db.session() as session:
        rows = (await session.exec(select(SealedText).where(col(SealedText.id).in_(wanted)))).all()
        keys: dict[str, bytes | None] = {}
        for row in rows:
            if row.borrower_id not in keys:
                keys[row.borrower_id] = await vault.data_key(session, row.borrower_id, create=False)
            dek = keys[row.borrower_id]
            if dek is not None and row.sealed is not None:
                purpose = _purpose(row.id, row.borrower_id)
                found[PREFIX + row.id] = crypto.open_sealed(dek, row.sealed, purpose)
    return {PREFIX + i: found.get(PREFIX + i, ERASED) for i in wanted}


def replace_refs(text: str, opened: dict[str, str]) -> str:
    """``text`` with every reference in it replaced by its opened text."""
    return _REF.sub(lambda m: opened.get(m.group(0), ERASED), text)


def refs_in(text: str) -> list[str]:
    return _REF.findall(text)
