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

Guessing is slowed for every session and process at once (:class:`LoginGuard`: failures per user name
and per client in ``models/auth/failures.json``, then locks that grow); a signed-in browser keeps its
sign-in over a reload with a cookie signed by HMAC-SHA256 (:func:`sign_cookie`, :func:`verify_cookie`).
No streamlit here: :mod:`ui.auth` wires these into the sign-in page.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import math
import os
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from ..storage import StorageError, atomic_write_json, file_lock, parse_json, read_json, temp_name
from .run_object import models_dir

ROLE_VIEW = "閲覧"
ROLE_ANALYST = "分析"
ROLES = (ROLE_VIEW, ROLE_ANALYST)
_N, _R, _P = 2**14, 8, 1

__all__ = ["ROLE_VIEW", "ROLE_ANALYST", "ROLES", "Account", "hash_password", "verify_password", "secrets_line",
           "accounts_from_secrets", "check_login", "can_analyse", "LoginGuard", "Attempt", "lockout_message",
           "sign_cookie", "verify_cookie", "cookie_key", "record_sign_out", "signed_out_times", "auth_dir",
           "COOKIE_NAME", "COOKIE_TTL_S"]
log = logging.getLogger("moyamoya.auth")


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


# --------------------------------------------------------------------------- guessing: counts shared by every session


#: After this many failed sign-ins within :data:`FAIL_WINDOW_S` for one user name, or from one client,
#: further tries for that name / from that client are refused for :data:`LOCK_FIRST_S`; every failure
#: after a lock (until a quiet window has passed) locks again for twice as long, up to :data:`LOCK_MAX_S`.
FAIL_LIMIT = 5
FAIL_WINDOW_S = 15 * 60.0
LOCK_FIRST_S = 30.0
LOCK_MAX_S = 15 * 60.0
#: Entries kept in the counter file at most (names sprayed by a guesser must not grow it without end).
MAX_ENTRIES = 5000
_MEMORY: dict[str, Any] = {}  # counters of a models folder that cannot be written (per process)
_MEMORY_LOCK = threading.Lock()


def auth_dir() -> Path:
    """``models/auth``: failure counters, sign-outs and the cookie key (mode 0700)."""
    return models_dir() / "auth"


def _ensure_dir(path: Path) -> None:
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError:
        pass  # read-only: the callers fall back to memory


def _locked_update(path: Path, change: Callable[[dict], dict]) -> dict:
    """Read-modify-write a small JSON object under its lock; a damaged file starts afresh, a folder
    that cannot be written keeps the object in this process's memory instead."""
    _ensure_dir(path)
    try:
        with file_lock(path.with_name(path.name + ".lock"), timeout=10):
            try:
                current = read_json(path, {})
            except (ValueError, OSError):
                current = {}
            new = change(current if isinstance(current, dict) else {})
            atomic_write_json(path, new)
            return new
    except (StorageError, OSError) as exc:
        log.warning("cannot write %s (%s): counting in this process's memory only", path, exc)
        with _MEMORY_LOCK:
            cur = _MEMORY.get(str(path))
            new = _MEMORY[str(path)] = change(dict(cur) if isinstance(cur, dict) else {})
            return new


def _read(path: Path) -> dict:
    with _MEMORY_LOCK:
        if str(path) in _MEMORY:
            return dict(_MEMORY[str(path)])
    try:
        data = read_json(path, {})
    except (ValueError, OSError):
        return {}
    return data if isinstance(data, dict) else {}


@dataclass(frozen=True)
class Attempt:
    """Whether a sign-in try may go ahead; if not, ``wait_s`` until one will. ``at`` names the try."""

    allowed: bool
    wait_s: float = 0.0
    at: float = 0.0


def wait_words(seconds: float) -> str:
    """「30秒」「2分」: a wait rounded up to whole seconds, or to whole minutes from one minute."""
    s = max(1, math.ceil(seconds))
    return f"{s}秒" if s < 60 else f"{math.ceil(s / 60)}分"


def lockout_message(seconds: float) -> str:
    """The one sentence a refused try gets (the same whether or not the user name exists)."""
    return f"サインインの失敗が続いたため受け付けを止めています。{wait_words(seconds)}ほど待ってからやり直してください。"


def _name_key(user: str) -> str:
    """Typed names are kept only as digests (a password typed into the name box is not written down)."""
    return "user:" + hashlib.sha256(("moyamoya-sign-in\0" + user).encode("utf-8")).hexdigest()[:32]


def _short(text: str) -> str:
    return repr(text[:64] + ("…" if len(text) > 64 else ""))


class LoginGuard:
    """Failed sign-ins per user name and per client, in one JSON file every session and process shares.

    A try is counted as a failure *before* its password is checked, in the same locked read-modify-write
    that decides whether it may go ahead, so parallel sessions cannot slip guesses in between a check
    and its count; :meth:`succeeded` then clears the name's count and takes the try back from the
    client's. ``clock`` (seconds, like :func:`time.time`) is replaceable for tests.
    """

    def __init__(self, path: str | Path | None = None, clock: Callable[[], float] = time.time, limit: int = FAIL_LIMIT,
                 window_s: float = FAIL_WINDOW_S, first_lock_s: float = LOCK_FIRST_S, max_lock_s: float = LOCK_MAX_S):
        self.path = Path(path) if path is not None else auth_dir() / "failures.json"
        self.clock, self.limit, self.window_s = clock, limit, window_s
        self.first_lock_s, self.max_lock_s = first_lock_s, max_lock_s

    def lock_s(self, n_lockouts: int) -> float:
        """How long the ``n_lockouts``-th lock in a row lasts: 30 s, 60 s, 120 s … at most 15 minutes."""
        return min(self.first_lock_s * 2 ** max(0, n_lockouts - 1), self.max_lock_s)

    def _keys(self, user: str, client: str) -> tuple[str, str]:
        return _name_key(user), "client:" + (client or "?")[:80]

    def _clean(self, data: dict, now: float) -> dict:
        out = {}
        for k, e in data.items():
            if not isinstance(e, dict):
                continue
            fails = [float(t) for t in e.get("fails", []) if isinstance(t, (int, float)) and now - t < self.window_s]
            until = float(e["until"]) if isinstance(e.get("until"), (int, float)) else 0.0
            lockouts = int(e.get("lockouts") or 0) if isinstance(e.get("lockouts"), int) else 0
            if not fails and now >= until + (self.window_s if lockouts else 0):
                continue  # quiet for a whole window (after its last lock): forgotten, lockouts included
            out[k] = {**e, "fails": fails, "until": until, "lockouts": lockouts}
        if len(out) > MAX_ENTRIES:
            newest = sorted(out, key=lambda k: max(out[k]["fails"] + [out[k]["until"]]), reverse=True)
            out = {k: out[k] for k in newest[:MAX_ENTRIES]}
        return out

    def attempt(self, user: str, client: str) -> Attempt:
        """May ``user`` try a password from ``client`` now? If so the try is counted already."""
        now = self.clock()
        keys = self._keys(user, client)
        result: list[Attempt] = []

        def change(data: dict) -> dict:
            data = self._clean(data, now)
            entries = [data.setdefault(k, {"fails": [], "until": 0.0, "lockouts": 0}) for k in keys]
            wait = max(e["until"] - now for e in entries)
            result[:] = [Attempt(False, wait)] if wait > 0 else [Attempt(True, 0.0, now)]
            if wait > 0:
                return data
            for e in entries:
                e["fails"].append(now)
                # the limit reached, or any failure soon after a lock: this try, if it fails too, locks again
                if len(e["fails"]) >= self.limit or e["lockouts"]:
                    e["lockouts"] += 1
                    e["until"], e["lock_by"] = now + self.lock_s(e["lockouts"]), now
            return data

        _locked_update(self.path, change)
        if not result[0].allowed:
            log.warning("sign-in refused (locked) for user %s from client %s: %.0f s to wait", _short(user), client,
                        result[0].wait_s)
        return result[0]

    def wait_s(self, user: str, client: str) -> float:
        """Seconds until a try for ``user`` from ``client`` is accepted (0: now)."""
        now = self.clock()
        data = self._clean(_read(self.path), now)
        return max([0.0] + [data[k]["until"] - now for k in self._keys(user, client) if k in data])

    def failed(self, user: str, client: str, attempt: Attempt) -> float:
        """The try was wrong (it is counted already): log it; returns the wait it started (0: none)."""
        data = self._clean(_read(self.path), self.clock())
        name, cl = (data.get(k, {}) for k in self._keys(user, client))
        log.warning("sign-in failed for user %s from client %s (%d failures for the name, %d from the client "
                    "in %.0f min)", _short(user), client, len(name.get("fails", [])), len(cl.get("fails", [])),
                    self.window_s / 60)
        wait = 0.0
        for what, e in (("user " + _short(user), name), ("client " + client, cl)):
            if e.get("lock_by") == attempt.at and e.get("until", 0) > attempt.at:
                wait = max(wait, e["until"] - attempt.at)
                log.warning("sign-in locked for %s for %.0f s (lock %d in a row)", what, e["until"] - attempt.at,
                            e.get("lockouts", 0))
        return wait

    def succeeded(self, user: str, client: str, attempt: Attempt) -> None:
        """The try was right: forget the name's failures, take the try back from the client's count."""
        ukey, ckey = self._keys(user, client)

        def change(data: dict) -> dict:
            data.pop(ukey, None)
            e = data.get(ckey)
            if isinstance(e, dict):
                fails = e.get("fails", [])
                if attempt.at in fails:
                    fails.remove(attempt.at)
                if e.get("lock_by") == attempt.at:  # the lock this try would have started
                    e["until"], e["lockouts"] = 0.0, max(0, int(e.get("lockouts") or 0) - 1)
                    e.pop("lock_by", None)
            return self._clean(data, self.clock())

        _locked_update(self.path, change)


# --------------------------------------------------------------------------- a signed-in browser survives a reload


COOKIE_NAME = "moyamoya_signin"
COOKIE_TTL_S = 12 * 3600
_COOKIE_MAX = 4096
_PROCESS_KEY = secrets.token_bytes(32)  # when no key can be kept on disk: valid until the server restarts


def _b64u(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode("ascii")


def _mac(key: bytes, body: str, account: Account) -> str:
    # Bound to the account's password hash too: a new password ends every remembered sign-in.
    msg = b"moyamoya-signin-v1\0" + body.encode("ascii") + b"\0" + account.hashed.encode("utf-8")
    return _b64u(hmac.new(key, msg, hashlib.sha256).digest())


def sign_cookie(account: Account, key: bytes, now: float, ttl_s: float = COOKIE_TTL_S) -> str:
    """``<payload>.<HMAC-SHA256>`` (URL-safe base64): user, role, issued and expiry times (ms)."""
    payload = {"u": account.user, "r": account.role, "i": int(now * 1000), "e": int((now + ttl_s) * 1000)}
    body = _b64u(json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    return f"{body}.{_mac(key, body, account)}"


def verify_cookie(value: object, key: bytes, accounts: Mapping[str, Account], now: float,
                  signed_out: Mapping[str, float] | None = None) -> Account | None:
    """The account a cookie of :func:`sign_cookie` names, if its signature is right, it has not expired,
    the account still exists with the same role (and password) and its user has not signed out since."""
    if not isinstance(value, str) or len(value) > _COOKIE_MAX or value.count(".") != 1:
        return None
    body, mac = value.split(".")
    try:
        data = parse_json(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode("utf-8"), max_depth=2)
    except (ValueError, binascii.Error):
        return None
    if not isinstance(data, dict) or not all(isinstance(data.get(k), t) for k, t in
                                             (("u", str), ("r", str), ("i", int), ("e", int))):
        return None
    account = accounts.get(data["u"])
    if account is None or not hmac.compare_digest(mac.encode("ascii", "replace"), _mac(key, body, account).encode()):
        return None
    now_ms = now * 1000
    if data["e"] <= now_ms or data["i"] > now_ms + 300_000 or data["r"] != account.role:
        return None
    if data["i"] <= (signed_out or {}).get(account.user, -1):
        return None
    return account


def cookie_key(secret: object = None, path: str | Path | None = None) -> bytes:
    """The key that signs cookies: ``secret`` (``[signin] cookie_secret`` of the secrets) when given,
    else a random key made once and kept in ``models/auth/cookie_key`` (mode 0600, written atomically)."""
    if isinstance(secret, str) and secret.strip():
        if len(secret.strip()) < 16:
            log.warning("[signin] cookie_secret is shorter than 16 characters: use a long random string")
        return secret.strip().encode("utf-8")
    p = Path(path) if path is not None else auth_dir() / "cookie_key"
    key = _read_key(p)
    if key is not None:
        return key
    _ensure_dir(p)
    try:
        with file_lock(p.with_name(p.name + ".lock"), timeout=10):
            key = _read_key(p)
            if key is None:
                key = secrets.token_bytes(32)
                _write_private(p, key.hex() + "\n")
            return key
    except (StorageError, OSError) as exc:
        log.warning("cannot keep the cookie key in %s (%s): sign-ins are remembered until the server restarts", p, exc)
        return _PROCESS_KEY


def _read_key(path: Path) -> bytes | None:
    try:
        key = bytes.fromhex(path.read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        return None
    return key if len(key) >= 16 else None


def _write_private(path: Path, text: str) -> None:
    """``text`` to ``path`` through a temporary created with mode 0600 (never readable by others)."""
    tmp = temp_name(path)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def record_sign_out(user: str, now: float, path: str | Path | None = None) -> None:
    """``user`` signed out: every cookie issued to them until now stops working (on every browser)."""
    p = Path(path) if path is not None else auth_dir() / "signed_out.json"

    def change(data: dict) -> dict:
        data = {u: t for u, t in data.items() if isinstance(t, (int, float)) and now * 1000 - t < COOKIE_TTL_S * 1000}
        data[user] = int(now * 1000)
        return data

    _locked_update(p, change)


def signed_out_times(path: str | Path | None = None) -> dict[str, float]:
    """User → when (ms) they last signed out (see :func:`verify_cookie`)."""
    data = _read(Path(path) if path is not None else auth_dir() / "signed_out.json")
    return {str(u): float(t) for u, t in data.items() if isinstance(t, (int, float))}

