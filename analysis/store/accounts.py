"""Who may do what on a shared dashboard: roles, password hashes, constant-time checks.

Two roles:

* ``閲覧`` (browse): read every page, filter, search, keep trainer shortlists;
* ``分析`` (analyse): also upload files, rerun analyses, delete runs and choose the run every new
  visitor opens with (公開中).

Passwords live in ``.streamlit/secrets.toml`` only as salted scrypt hashes::

    [passwords]
    tanaka = { hash = "scrypt$16384$8$1$...$...", role = "分析" }
    suzuki = { hash = "scrypt$16384$8$1$...$...", role = "閲覧" }

``python -m analysis password <user> --role 分析`` prints such a line. Checks use
:func:`hmac.compare_digest`, and an unknown user costs the same time as a wrong password.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from typing import Any, Mapping

ROLE_VIEW = "閲覧"
ROLE_ANALYST = "分析"
ROLES = (ROLE_VIEW, ROLE_ANALYST)
_N, _R, _P = 2**14, 8, 1

__all__ = ["ROLE_VIEW", "ROLE_ANALYST", "ROLES", "Account", "hash_password", "verify_password", "secrets_line",
           "accounts_from_secrets", "check_login", "can_analyse"]


@dataclass(frozen=True)
class Account:
    user: str
    role: str
    hashed: str


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode("ascii")


def hash_password(password: str, salt: bytes | None = None) -> str:
    """``scrypt$N$r$p$<salt>$<hash>`` (base64) for ``password``."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches the ``stored`` hash (constant-time comparison)."""
    try:
        scheme, n, r, p, salt_b64, hash_b64 = stored.split("$")
        if scheme != "scrypt":
            return False
        salt, expected = base64.b64decode(salt_b64), base64.b64decode(hash_b64)
        digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=int(n), r=int(r), p=int(p), dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(digest, expected)


_DUMMY = hash_password("not a password", salt=b"0123456789abcdef")


def secrets_line(user: str, hashed: str, role: str) -> str:
    """The TOML line for ``[passwords]`` (user names are quoted, so any name works)."""
    return f"{json.dumps(user, ensure_ascii=False)} = {{ hash = \"{hashed}\", role = \"{role}\" }}"


def accounts_from_secrets(secrets_: Mapping[str, Any]) -> dict[str, Account]:
    """Accounts under ``[passwords]`` of Streamlit's secrets (entries with a bad role are skipped)."""
    section = secrets_.get("passwords") if hasattr(secrets_, "get") else None
    out: dict[str, Account] = {}
    if not section:
        return out
    for user, entry in dict(section).items():
        if not hasattr(entry, "get"):
            continue
        role = str(entry.get("role", ROLE_VIEW))
        hashed = str(entry.get("hash", ""))
        if role in ROLES and hashed.startswith("scrypt$"):
            out[str(user)] = Account(str(user), role, hashed)
    return out


def check_login(accounts: Mapping[str, Account], user: str, password: str) -> Account | None:
    """The account if ``user`` / ``password`` match; None otherwise (same cost either way)."""
    acc = accounts.get(user)
    ok = verify_password(password, acc.hashed if acc else _DUMMY)
    return acc if (acc is not None and ok) else None


def can_analyse(role: str | None) -> bool:
    return role == ROLE_ANALYST
