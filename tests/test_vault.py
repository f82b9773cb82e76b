"""The borrower vault on real SQLite and PostgreSQL (DESIGN §10): sealed rows, key rotation,
the do-not-contact register, sealed free text and erasure at the table level."""

from __future__ import annotations

import base64
import hashlib
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlmodel import select

from activities.db import Database
from activities.vault import crypto, dnc, files, outgoing, texts
from activities.vault.erase import erase_borrower
from activities.vault.store import Vault
from api import store
from models import tables as t
from models.common import Channel, Loan
from models.settings import Settings
from models.vault_tables import BorrowerKey, Erasure
from tests import factories

NAME, PHONE, ADDRESS = "钱秘密", "+8613912345678", "杭州市保密路 9 号"


def _kek(seed: str) -> str:
    return base64.b64encode(hashlib.sha256(seed.encode()).digest()).decode()


def vault_with(db: Database, keks: dict[str, str], current: str) -> Vault:
    settings = Settings(
        env="development", vault_keys=keks, vault_key_current=current, phone_hmac_key="hmac-key"
    )
    return Vault.from_settings(db, settings)


async def _stored(db: Database, vault: Vault) -> str:
    """A borrower written as the API writes it (upsert with the vault); their id."""
    borrower = factories.borrower(name=NAME, phone=PHONE, address=ADDRESS, birth_year=1985)
    loan = Loan(
        loan_id=f"L-{borrower.id}",
        currency="CNY",
        amount_overdue=Decimal("100.00"),
        outstanding_balance=Decimal("900.00"),
        due_date=date(2026, 11, 20),
    )
    await store.upsert_loan(db, loan, borrower, "default", vault)
    return borrower.id


async def test_the_row_holds_ciphertext_and_opens_with_the_key(database: Database) -> None:
    """The borrowers row has empty clear columns, a sealed blob and an HMAC; the vault opens
    it; the blob moved onto another borrower's row does not open (bound to its borrower)."""
    vault = vault_with(database, {"k1": _kek("k1")}, "k1")
    borrower_id = await _stored(database, vault)
    async with database.session() as session:
        row = await session.get(t.Borrower, borrower_id)
    assert row is not None and row.sealed is not None
    assert (row.name, row.phone, row.address, row.birth_year) == ("", "", "", None)
    assert NAME not in row.sealed and row.phone_hmac == vault.phone_hmac(PHONE) != PHONE
    details = await vault.details(borrower_id)
    assert details is not None
    assert (details.name, details.phone, details.address, details.birth_year) == (
        NAME,
        PHONE,
        ADDRESS,
        1985,
    )
    other_id = await _stored(database, vault)
    async with database.session() as session:
        other = await session.get(t.Borrower, other_id)
        assert other is not None
        other.sealed = row.sealed
        session.add(other)
        await session.commit()
    with pytest.raises(crypto.VaultError):
        await vault.details(other_id)
    async with database.session() as session:
        found = await vault.borrower_ids_for_phone(session, PHONE)
    assert set(found) == {borrower_id, other_id}


async def test_rotation_rewraps_data_keys_under_the_new_kek(database: Database) -> None:
    """Rotation = rewrap: after it the old KEK can go and every borrower still opens; before
    it a vault without the old KEK cannot open them."""
    old = vault_with(database, {"k1": _kek("k1")}, "k1")
    borrower_id = await _stored(database, old)
    both = vault_with(database, {"k1": _kek("k1"), "k2": _kek("k2")}, "k2")
    only_new = vault_with(database, {"k2": _kek("k2")}, "k2")
    with pytest.raises(crypto.VaultError, match="unknown vault key 'k1'"):
        await only_new.details(borrower_id)
    assert await both.rotate() >= 1
    assert await both.rotate() == 0  # nothing left under k1
    async with database.session() as session:
        key = await session.get(BorrowerKey, borrower_id)
    assert key is not None and key.kek_id == "k2" and key.rotated_at is not None
    details = await only_new.details(borrower_id)
    assert details is not None and details.name == NAME


async def test_do_not_contact_register_blocks_by_phone(database: Database) -> None:
    """An opt-out on the register blocks that channel for the number, whoever the borrower;
    START takes SMS off; an erased borrower cannot be sent to at all."""
    vault = vault_with(database, {"k1": _kek("k1")}, "k1")
    borrower_id = await _stored(database, vault)
    fingerprint = vault.phone_hmac(PHONE)
    await dnc.register(database, fingerprint, [Channel.SMS], "inbound STOP", "test")
    await dnc.register(database, fingerprint, [Channel.SMS], "inbound STOP", "again")  # idempotent
    sms = await outgoing.prepare(vault, Channel.SMS, borrower_id, fingerprint, "hi {name}")
    call = await outgoing.prepare(vault, Channel.CALL, borrower_id, fingerprint, "hi {name}")
    assert isinstance(sms, outgoing.Blocked) and "do-not-contact" in sms.reason
    assert isinstance(call, outgoing.Outgoing) and (call.to, call.text) == (PHONE, f"hi {NAME}")
    old_style = await outgoing.prepare(vault, Channel.SMS, None, PHONE, "hi")  # a pre-vault case
    assert isinstance(old_style, outgoing.Blocked)
    await dnc.forget(database, fingerprint, Channel.SMS)
    assert await dnc.entries(database, fingerprint) == {}
    await erase_borrower(vault, borrower_id, "dpo-1")
    erased = await outgoing.prepare(vault, Channel.CALL, borrower_id, fingerprint, "hi")
    assert isinstance(erased, outgoing.Blocked) and "erased" in erased.reason


async def test_erasure_makes_texts_and_details_unreadable_and_is_recorded(
    database: Database,
) -> None:
    """After erasure: no key, no sealed blob, texts read [erased]; the register entry and the
    erasure record (actor, counts, no personal data) stay."""
    vault = vault_with(database, {"k1": _kek("k1")}, "k1")
    borrower_id = await _stored(database, vault)
    case_id = f"case-L-{borrower_id}"
    ref = await texts.seal_text(vault, borrower_id, case_id, "note.text", f"{NAME} 失业了")
    assert texts.is_ref(ref) and NAME not in ref
    assert await texts.open_texts(vault, [ref]) == {ref: f"{NAME} 失业了"}
    await dnc.register(database, vault.phone_hmac(PHONE), [Channel.CALL], "cease", "test")
    result = await erase_borrower(vault, borrower_id, "dpo-1")
    assert (result.found, result.cases, result.texts) == (True, 1, 1)
    assert await vault.details(borrower_id) is None
    assert await texts.open_texts(vault, [ref]) == {ref: texts.ERASED}
    assert Channel.CALL in await dnc.entries(database, vault.phone_hmac(PHONE))
    async with database.session() as session:
        assert await session.get(BorrowerKey, borrower_id) is None
        row = await session.get(t.Borrower, borrower_id)
        records = (await session.exec(select(Erasure))).all()
    assert row is not None and row.sealed is None and row.phone_hmac is None
    [record] = [r for r in records if r.borrower_id == borrower_id]
    assert (record.actor, record.cases, record.texts) == ("dpo-1", 1, 1)
    assert not (await erase_borrower(vault, "B-nobody", "dpo-1")).found


async def test_evidence_is_sealed_bound_to_its_borrower_and_erased(
    database: Database, tmp_path: Path
) -> None:
    """A visit photo is kept sealed under the borrower's key, named by its plain SHA-256 in a
    folder named by a hash (not the id); the same photo twice is one file; the file moved into
    another borrower's folder does not open; erasure deletes it and its key."""
    vault = vault_with(database, {"k1": _kek("k1")}, "k1")
    borrower_id = await _stored(database, vault)
    photo = b"\xff\xd8\xff\xe0" + "钱秘密的门牌".encode() + bytes(64)
    sha, path = await files.seal_file(vault, tmp_path, borrower_id, photo, "jpg")
    again, same_path = await files.seal_file(vault, tmp_path, borrower_id, photo, "jpg")
    assert (again, same_path) == (sha, path) and sha == hashlib.sha256(photo).hexdigest()
    assert borrower_id not in str(path) and photo[4:20] not in path.read_bytes()
    assert await files.open_file(vault, borrower_id, path) == photo
    other = await _stored(database, vault)
    moved = files.sealed_path(tmp_path, other, sha, "jpg")
    moved.parent.mkdir(parents=True)
    moved.write_bytes(path.read_bytes())
    with pytest.raises(crypto.VaultError):
        await files.open_file(vault, other, moved)
    await erase_borrower(vault, borrower_id, "dpo-1")
    assert await files.open_file(vault, borrower_id, path) is None  # no key: unreadable
    assert files.erase_files(tmp_path, borrower_id) == 1
    assert not path.exists() and files.erase_files(tmp_path, borrower_id) == 0
