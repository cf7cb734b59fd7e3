"""API keys: generation, hashing, verification with a short in-process cache."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time

from labtrack.server.errors import NotFound, Unauthorized
from labtrack.server.store import keys as key_store
from labtrack.server.store.db import Database
from labtrack.server.util import new_id, now

KEY_PREFIX = "lt_"
_CACHE_SECONDS = 5.0  # bounds how long a key revoked on another replica still works


def generate_key() -> str:
    """A new random API key secret."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(secret: str) -> str:
    """The stored form of a key: sha256 hex (keys are random, so no salt is needed)."""
    return hashlib.sha256(secret.encode()).hexdigest()


class KeyService:
    """Creates, lists, revokes and verifies API keys."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._cache: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def create(self, user: str, description: str = "", secret: str | None = None) -> dict:
        """Create a key and return it with its secret (the only time the secret is returned)."""
        secret = secret or generate_key()
        key_id, created = new_id(), now()
        with self.db.write() as conn:
            key_store.insert_key(
                conn, key_id=key_id, user=user, description=description, key_hash=hash_key(secret), created=created
            )
        return {"id": key_id, "user": user, "description": description, "key": secret, "created": created}

    def ensure(self, secret: str, user: str, description: str) -> None:
        """Make sure a given secret is a valid key (the bootstrap key); a revoked one stays revoked."""
        digest = hash_key(secret)
        with self.db.write() as conn:
            if key_store.find_by_hash(conn, digest) is None:
                key_store.insert_key(
                    conn, key_id=new_id(), user=user, description=description, key_hash=digest, created=now()
                )

    def list(self, limit: int, after_id: str | None) -> list[dict]:
        """Active keys (never secrets)."""
        with self.db.read() as conn:
            return key_store.list_keys(conn, limit=limit, after_id=after_id)

    def revoke(self, key_id: str) -> None:
        """Revoke a key; it stops working at once on this replica."""
        with self.db.write() as conn:
            if not key_store.revoke_key(conn, key_id, now()):
                raise NotFound(f"API key {key_id} does not exist or is already revoked.")
        with self._lock:
            self._cache.clear()

    def cached_user(self, authorization: str | None) -> str | None:
        """The user of a recently verified key, without touching the database (None on a miss)."""
        if not authorization:
            return None
        _scheme, _, secret = authorization.partition(" ")
        hit = self._cache.get(hash_key(secret.strip()))
        if hit and time.monotonic() - hit[1] < _CACHE_SECONDS:
            return hit[0]
        return None

    def authenticate(self, authorization: str | None) -> str:
        """The user a request's `Authorization` header belongs to; raises Unauthorized."""
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
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = (row["user"], stamp)
        return row["user"]
