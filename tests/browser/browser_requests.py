"""Counting what the page asks the server: a log of the requests whose URL contains a fragment."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlparse


@dataclass
class Seen:
    """One request: its path, its query (one value per name) and the `items` it got back."""

    path: str
    query: dict[str, str]
    items: list[dict[str, Any]] = field(default_factory=list)


class RequestLog:
    """Records the page's requests (via `page.on("request")`) whose URL contains `fragment`."""

    def __init__(self, page: Any, fragment: str):
        self.page = page
        self.fragment = fragment
        self._requests: list[Any] = []
        page.on("request", self._on_request)

    def _on_request(self, request: Any) -> None:
        if self.fragment in request.url:
            self._requests.append(request)

    def wait_for(self, path_suffix: str, timeout_ms: int = 10_000) -> None:
        """Let the page run until a request whose path ends in `path_suffix` was recorded.

        Playwright's sync API delivers request events only inside its own calls, so this waits
        with `wait_for_timeout` rather than sleeping.
        """
        waited = 0
        while not any(urlparse(r.url).path.endswith(path_suffix) for r in self._requests):
            if waited >= timeout_ms:
                raise AssertionError(f"no request to …{path_suffix} within {timeout_ms} ms")
            self.page.wait_for_timeout(100)
            waited += 100

    def stop(self) -> list[Seen]:
        """Stop recording; return what was asked, with the rows of each answer."""
        self.page.remove_listener("request", self._on_request)
        seen = []
        for request in self._requests:
            url = urlparse(request.url)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            response = request.response()
            items: list[dict[str, Any]] = []
            if response is not None and response.ok:
                body = response.json()
                items = body.get("items", []) if isinstance(body, dict) else []
            seen.append(Seen(url.path, query, items))
        return seen
