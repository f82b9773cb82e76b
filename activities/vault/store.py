"""The borrower vault: personal data sealed per borrower in SQL (DESIGN §10).

The API writes a borrower's name, phone, address and year of birth here (``borrower_columns``:
the ``borrowers`` row keeps only ciphertext and a phone fingerprint); activities read them back
when they send or hand a case to legal (``details``). Deleting the borrower's data key
(``activities/vault/erase.py``) makes every sealed value of theirs unreadable at once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from activities.db import Database
from activities.sql import insert_for, table_of
from activities.vault import crypto
from activities.vault.crypto import VaultKeys
from models import tables as t
from models.common import Borrower
from models.settings import Settings
from models.vault_tables import BorrowerKey

DETAILS_PURPOSE = "borrower:{id}"


@dataclass(frozen=True)
class BorrowerDetails:
    """A borrower's personal data, opened: only ever in an activity's or the API's memory."""

    id: str
    name: str
    phone: str
    address: str
    birth_year: int | None


class Vault:
    def __init__(self, db: Database, keys: VaultKeys) -> None:
        self.db = db
        self.keys = keys

    @classmethod
    def from_settings(cls, db: Database, settings: Settings) -> Vault:
        return cls(db, VaultKeys.from_settings(settings))

    def phone_hmac(self, phone: str) -> str:
        return self.keys.phone_hmac(phone)

    # ------------------------------------------------------------------ data keys

    async def data_key(
        self, session: AsyncSession, borrower_id: str, *, create: bool
    ) -> bytes | None:
        """The borrower's data key; a new one when ``create`` and there is none (racing
        creators: the first insert wins and both read it back)."""
        row = await session.get(BorrowerKey, borrower_id)
        if row is None and create:
            kek_id, wrapped = crypto.wrap(self.keys, crypto.new_data_key(), borrower_id)
            keys = table_of(BorrowerKey)
            insert = insert_for(self.db, keys).values(
                borrower_id=borrower_id,
                kek_id=kek_id,
                wrapped_key=wrapped,
                created_at=datetime.now(UTC),
            )
            await session.exec(insert.on_conflict_do_nothing(index_elements=[keys.c.borrower_id]))
            row = await session.get(BorrowerKey, borrower_id, populate_existing=True)
        if row is None:
            return None
        return crypto.unwrap(self.keys, row.kek_id, row.wrapped_key, borrower_id)

    async def borrower_columns(self, session: AsyncSession, borrower: Borrower) -> dict[str, Any]:
        """The ``borrowers`` row's personal columns for ``borrower``: clear ones empty, the
        details sealed, the phone fingerprinted. Creates the data key in ``session``."""
        dek = await self.data_key(session, borrower.id, create=True)
        if dek is None:  # create=True always yields a key
            raise crypto.VaultError(f"no data key for borrower {borrower.id}")
        details = {
            "name": borrower.name,
            "phone": borrower.phone,
            "address": borrower.address,
            "birth_year": borrower.birth_year,
        }
        purpose = DETAILS_PURPOSE.format(id=borrower.id)
        return {
            "name": "",
            "phone": "",
            "address": "",
            "birth_year": None,
            "sealed": crypto.seal(dek, json.dumps(details), purpose),
            "phone_hmac": self.phone_hmac(borrower.phone),
        }

    async def store(self, borrower: Borrower) -> None:
        """Seal ``borrower`` onto an existing ``borrowers`` row (tests, the loan import)."""
        async with self.db.session() as session:
            values = await self.borrower_columns(session, borrower)
            borrowers = table_of(t.Borrower)
            await session.exec(
                sa.update(borrowers).where(borrowers.c.id == borrower.id).values(**values)
            )
            await session.commit()

    # ------------------------------------------------------------------ reading back

    async def details(self, borrower_id: str) -> BorrowerDetails | None:
        """The borrower's personal data; None when unknown or erased."""
        async with self.db.session() as session:
            return await self.details_in(session, borrower_id)

    async def details_in(self, session: AsyncSession, borrower_id: str) -> BorrowerDetails | None:
        row = await session.get(t.Borrower, borrower_id)
        if row is None:
            return None
        if row.sealed is None:  # written before the vault, or by a path that does not seal
            if not row.name and not row.phone:
                return None
            return BorrowerDetails(row.id, row.name, row.phone, row.address, row.birth_year)
        dek = await self.data_key(session, borrower_id, create=False)
        if dek is None:
            return None
        opened = json.loads(
            crypto.open_sealed(dek, row.sealed, DETAILS_PURPOSE.format(id=borrower_id))
        )
        return BorrowerDetails(
            id=borrower_id,
            name=str(opened.get("name") or ""),
            phone=str(opened.get("phone") or ""),
            address=str(opened.get("address") or ""),
            birth_year=opened.get("birth_year"),
        )

    async def opened(self, row: t.Borrower) -> t.Borrower:
        """A ``borrowers`` row with its sealed details filled in, for the screens; as it is
        when nothing is sealed (a row from before the vault) or the borrower was erased."""
        if row.sealed is None:
            return row
        details = await self.details(row.id)
        if details is None:
            return row
        update = {
            "name": details.name,
            "phone": details.phone,
            "address": details.address,
            "birth_year": details.birth_year,
        }
        return row.model_copy(update=update)

    async def borrower_ids_for_phone(self, session: AsyncSession, phone: str) -> list[str]:
        statement = select(t.Borrower.id).where(t.Borrower.phone_hmac == self.phone_hmac(phone))
        return [str(i) for i in (await session.exec(statement)).all()]

    # ------------------------------------------------------------------ rotation

    async def rotate(self) -> int:
        """Rewrap every data key not under the current KEK; the data is untouched. Returns how
        many were rewrapped. Run after making a new KEK current; drop the old KEK after."""
        done = 0
        async with self.db.session() as session:
            rows = (
                await session.exec(
                    select(BorrowerKey).where(BorrowerKey.kek_id != self.keys.current)
                )
            ).all()
            for row in rows:
                dek = crypto.unwrap(self.keys, row.kek_id, row.wrapped_key, row.borrower_id)
                row.kek_id, row.wrapped_key = crypto.wrap(self.keys, dek, row.borrower_id)
                row.rotated_at = datetime.now(UTC)
                session.add(row)
                done += 1
            await session.commit()
        return done
