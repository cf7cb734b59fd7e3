"""API keys: generation, hashing, roles, verification with a short in-process cache.

A key belongs to a user and has a role: `admin` keys manage keys (create, list, revoke),
`member` keys do everything else. The first key of a database and the bootstrap key are admin;
the last active admin key cannot be revoked, so a server can never lose its key management.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass

from labtrack.server.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized
from labtrack.server.store import keys as key_store
from labtrack.server.store.db import Database
from labtrack.server.util import new_id, now

KEY_PREFIX = "lt_"
ADMIN = "admin"
MEMBER = "member"
ROLES = (ADMIN, MEMBER)
_CACHE_SECONDS = 5.0  # bounds how long a key revoked on another replica still works


@dataclass(frozen=True)
class Identity:
    """Who a verified key speaks for."""

    user: str
    role: str


def generate_key() -> str:
    """A new random API key secret."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(secret: str) -> str:
    """The stored form of a key: sha256 hex (keys are random, so no salt is needed)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def require_admin(identity: Identity) -> None:
    """Raise Forbidden unless the key is an admin key."""
    if identity.role != ADMIN:
        raise Forbidden(
            f"Managing API keys needs an admin key; this is a {identity.role} key of user {identity.user!r}. "
            "Ask an admin, or create one on the server with `labtrack keys create --role admin`.",
            {"role": identity.role, "required_role": ADMIN},
        )


class KeyService:
    """Creates, lists, revokes and verifies API keys."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._cache: dict[str, tuple[Identity, float]] = {}
        self._lock = threading.Lock()

    def create(self, user: str, description: str = "", role: str | None = None, secret: str | None = None) -> dict:
        """Create a key and return it with its secret (the only time the secret is returned).

        Without a role the key is admin when the database has no active admin key (the first
        key), member otherwise.
        """
        if role is not None and role not in ROLES:
            raise Invalid(f"Unknown role {role!r}: use one of {', '.join(ROLES)}.", [{"loc": ["body", "role"], "msg": "unknown role"}])
        secret = secret or generate_key()
        key_id, created = new_id(), now()
        with self.db.write() as conn:
            if role is None:
                role = MEMBER if key_store.has_active(conn, ADMIN) else ADMIN
            key_store.insert_key(
                conn, key_id=key_id, user=user, role=role, description=description, key_hash=hash_key(secret),
                created=created,
            )
        return {"id": key_id, "user": user, "role": role, "description": description, "key": secret, "created": created}

    def ensure(self, secret: str, user: str, description: str) -> None:
        """Make sure a given secret is a valid admin key (the bootstrap key); a revoked one stays revoked."""
        digest = hash_key(secret)
        with self.db.write() as conn:
            if key_store.find_by_hash(conn, digest) is None:
                key_store.insert_key(
                    conn, key_id=new_id(), user=user, role=ADMIN, description=description, key_hash=digest,
                    created=now(),
                )

    def list(self, limit: int, after_id: str | None) -> list[dict]:
        """Active keys (never secrets)."""
        with self.db.read() as conn:
            return key_store.list_keys(conn, limit=limit, after_id=after_id)

    def revoke(self, key_id: str) -> None:
        """Revoke a key; it stops working at once on this replica. The last admin key stays (409)."""
        with self.db.write() as conn:
            # Lock the admin set first (same order for every revoker), then look at the target.
            admins = key_store.lock_active_ids(conn, ADMIN)
            target = key_store.get_active(conn, key_id)
            if target is None:
                raise NotFound(f"API key {key_id} does not exist or is already revoked.")
            if target["role"] == ADMIN and admins == [key_id]:
                raise Conflict(
                    f"API key {key_id} is the last admin key: without it nobody could manage keys. "
                    "Create another admin key first (POST /keys with role admin), then revoke this one.",
                    {"role": ADMIN, "active_admin_keys": 1},
                )
            key_store.revoke_key(conn, key_id, now())
        with self._lock:
            self._cache.clear()

    def cached_identity(self, authorization: str | None) -> Identity | None:
        """Who a recently verified key speaks for, without touching the database (None on a miss)."""
        if not authorization:
            return None
        _scheme, _, secret = authorization.partition(" ")
        hit = self._cache.get(hash_key(secret.strip()))
        if hit and time.monotonic() - hit[1] < _CACHE_SECONDS:
            return hit[0]
        return None

    def cached_user(self, authorization: str | None) -> str | None:
        """The user of a recently verified key, without touching the database (None on a miss)."""
        identity = self.cached_identity(authorization)
        return identity.user if identity else None

    def identify(self, authorization: str | None) -> Identity:
        """Who a request's `Authorization` header speaks for; raises Unauthorized."""
        if not authorization:
            raise Unauthorized(
                "This endpoint needs an API key: send 'Authorization: Bearer <key>' "
                "(create one with `labtrack keys create`)."
            )
        scheme, _, secret = authorization.partition(" ")
        secret = secret.strip()
        if scheme.lower() != "bearer" or not secret:
            raise Unauthorized("The Authorization header must be 'Bearer <api key>'.")
        digest = hash_key(secret)
        stamp = time.monotonic()
        with self._lock:
            hit = self._cache.get(digest)
        if hit and stamp - hit[1] < _CACHE_SECONDS:
            return hit[0]
        with self.db.read() as conn:
            row = key_store.find_active_by_hash(conn, digest)
        if row is None:
            raise Unauthorized("The API key is unknown or revoked: create a new one with `labtrack keys create`.", code="invalid_key")
        identity = Identity(user=row["user"], role=row["role"])
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = (identity, stamp)
        return identity

    def authenticate(self, authorization: str | None) -> str:
        """The user a request's `Authorization` header belongs to; raises Unauthorized."""
        return self.identify(authorization).user
