"""`ServerRecord`: an SDK object read from the server and kept as the JSON record it answered.

Datasets and models are both such records; the fields every named server resource has (`id`,
`name`, `project`) are read here, once. The record is the one source of truth: an object never
keeps a second copy of a field, so `refresh()` (which replaces `_record`) updates them all.
"""

from __future__ import annotations

from typing import Any


class ServerRecord:
    """The fields every named server resource has, read from `self._record`."""

    _record: dict[str, Any]

    @property
    def id(self) -> str:
        return str(self._record["id"])

    @property
    def name(self) -> str:
        return str(self._record["name"])

    @property
    def project(self) -> str:
        return str(self._record["project"])


__all__ = ["ServerRecord"]
