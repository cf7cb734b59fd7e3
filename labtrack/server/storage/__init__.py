"""Artifact bytes behind one small interface (fsspec underneath)."""

from labtrack.server.storage.store import ArtifactStorage, FsspecStorage, PendingWrite, StoredObject, safe_component

__all__ = ["ArtifactStorage", "FsspecStorage", "PendingWrite", "StoredObject", "safe_component"]
