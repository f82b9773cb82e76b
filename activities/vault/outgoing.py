"""What a contact activity needs from the vault: the number and the name, opened just before
the send, the do-not-contact check, and the text sealed for the ledger (DESIGN §10).

A case recorded before the vault hands the activity the number and the text itself
(``borrower_id`` None): it is sent as it always was, still checked against the register.
"""

from __future__ import annotations

from dataclasses import dataclass

from activities.vault import crypto, dnc
from activities.vault.store import Vault
from models.common import Channel

NAME_FIELD = "{name}"
ERASED_REASON = "the borrower's details were erased; nothing to send to"


@dataclass(frozen=True)
class Outgoing:
    to: str
    text: str
    dek: bytes | None  # the borrower's data key: the ledger keeps the text sealed under it
    borrower_id: str | None

    def stored(self, sent: str, key: str) -> tuple[str, str | None]:
        """The ledger's body for the text sent, and its hash (None: kept as before)."""
        if self.dek is None:
            return sent, None
        return crypto.seal(self.dek, sent, f"ledger:{key}"), crypto.sha256_hex(sent)

    def stored_to(self, key: str) -> tuple[str, str | None]:
        """The ledger's recipient: ("", the number sealed), or (the number, None) as before."""
        if self.dek is None:
            return self.to, None
        return "", crypto.seal(self.dek, self.to, f"ledger-to:{key}")


@dataclass(frozen=True)
class Blocked:
    reason: str


async def prepare(
    vault: Vault, channel: Channel, borrower_id: str | None, to: str, text: str
) -> Outgoing | Blocked:
    """The contact to make, or why it must not be made."""
    dek: bytes | None = None
    if borrower_id:
        details = await vault.details(borrower_id)
        if details is None or not details.phone:
            return Blocked(ERASED_REASON)
        async with vault.db.session() as session:  # None: a row written before the vault
            dek = await vault.data_key(session, borrower_id, create=False)
        to, text = details.phone, text.replace(NAME_FIELD, details.name)
    registered = await dnc.entries(vault.db, vault.phone_hmac(to))
    if channel in registered:
        return Blocked(dnc.BLOCKED_REASON.format(channel=channel.value, reason=registered[channel]))
    return Outgoing(to=to, text=text, dek=dek, borrower_id=borrower_id)


def open_ledger_body(dek: bytes, stored: str, key: str) -> str:
    return crypto.open_sealed(dek, stored, f"ledger:{key}")


def open_ledger_to(dek: bytes, sealed: str, key: str) -> str:
    return crypto.open_sealed(dek, sealed, f"ledger-to:{key}")
