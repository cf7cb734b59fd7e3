"""Projects by name: the server keys writes by project id, people name projects."""

from __future__ import annotations

from labtrack.sdk.client import ApiClient
from labtrack.sdk.errors import Conflict


def _find(client: ApiClient, name: str) -> str | None:
    # `search` is a substring match: page until the exact name shows up (sorted by name).
    for item in client.paginate("/projects", params={"search": name}, limit=1000):
        if item["name"] == name:
            return str(item["id"])
    return None


def project_id(client: ApiClient, name: str) -> str:
    """The id of the project called `name`, creating it when it does not exist yet.

    Two processes creating the same project race harmlessly: the loser's 409 sends it back to
    the lookup.
    """
    found = _find(client, name)
    if found is not None:
        return found
    try:
        return str(client.post("/projects", json={"name": name})["id"])
    except Conflict:
        found = _find(client, name)
        if found is None:
            raise
        return found
