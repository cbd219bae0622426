"""API keys: the keys file, checking a presented key, and making new keys.

The file holds one key per line, ``<name> <role> <sha256 of the key, hex>``, with ``#``
comments and blank lines allowed. Only the hashes are kept; a presented key is hashed
and compared with every stored hash in constant time, so neither the comparison nor
the file tells anything about the keys themselves.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

type Role = Literal["client", "admin"]

ROLES: Final = ("client", "admin")
_NAME: Final = re.compile(r"[A-Za-z0-9._-]{1,64}")
_DIGEST: Final = re.compile(r"[0-9a-fA-F]{64}")
#: New keys start with this, so a key is recognised as one when it leaks into a paste.
KEY_PREFIX: Final = "tm_"


class KeysFileError(ValueError):
    """The keys file cannot be used; the message names the file and the line."""


@dataclass(frozen=True, slots=True)
class ApiKey:
    """One key's holder: its name (the owner of the tasks it submits) and role."""

    name: str
    role: Role

    @property
    def admin(self) -> bool:
        """Whether the key sees every task and may read the metrics."""
        return self.role == "admin"


@dataclass(frozen=True, slots=True)
class KeyRing:
    """The keys the service accepts, as (hash, holder) pairs."""

    entries: tuple[tuple[bytes, ApiKey], ...]

    def holder(self, key: str) -> ApiKey | None:
        """The holder of ``key``, or None; every stored hash is compared, in constant time."""
        digest = hashlib.sha256(key.encode()).digest()
        found: ApiKey | None = None
        for stored, holder in self.entries:
            if hmac.compare_digest(stored, digest):
                found = holder
        return found


def digest_of(key: str) -> str:
    """The hex SHA-256 of a key, as the keys file stores it."""
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    """A new random key: 256 bits, URL-safe, with a recognisable prefix."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def file_line(name: str, role: Role, key: str) -> str:
    """The keys-file line for ``key``."""
    if not _NAME.fullmatch(name):
        raise ValueError("a key's name is 1 to 64 letters, digits, '.', '_' or '-'")
    return f"{name} {role} {digest_of(key)}"


def load_keys(path: Path) -> KeyRing:
    """Read a keys file, or raise ``KeysFileError`` naming the file and the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise KeysFileError(f"{path}: cannot be read ({exc})") from None
    entries: list[tuple[bytes, ApiKey]] = []
    names: set[str] = set()
    digests: set[bytes] = set()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        where = f"{path}:{number}"
        fields = line.split()
        if len(fields) != 3:  # noqa: PLR2004 - name, role, hash
            raise KeysFileError(f"{where}: expected '<name> <role> <sha256 hex>'")
        name, role, digest_hex = fields
        if not _NAME.fullmatch(name):
            raise KeysFileError(f"{where}: the name must be 1 to 64 letters, digits, . _ -")
        if role not in ROLES:
            raise KeysFileError(f"{where}: the role must be client or admin, not {role!r}")
        if not _DIGEST.fullmatch(digest_hex):
            raise KeysFileError(f"{where}: the key's hash must be 64 hex digits (SHA-256)")
        digest = bytes.fromhex(digest_hex)
        if name in names:
            raise KeysFileError(f"{where}: the name {name!r} is used twice")
        if digest in digests:
            raise KeysFileError(f"{where}: the same key is listed twice")
        names.add(name)
        digests.add(digest)
        entries.append((digest, ApiKey(name, "admin" if role == "admin" else "client")))
    if not entries:
        raise KeysFileError(f"{path}: no keys in the file")
    return KeyRing(tuple(entries))
