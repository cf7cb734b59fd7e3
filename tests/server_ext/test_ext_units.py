"""Small pure helpers of the server extension: URLs, redaction, request parsing, snapshots."""

from __future__ import annotations

import json

import nbformat
import pytest

from labtrack.server_ext.connection import (
    TrackingConnection, is_loopback, normalize_server_url, redact, url_without_credentials,
)
from labtrack.server_ext.environment import kernel_python
from labtrack.server_ext.notebooks import TrackRequest, TrackRequestError, notebook_stem, snapshot_notebook


def test_urls() -> None:
    assert normalize_server_url(" http://h:8765/api/v1/ ") == "http://h:8765"
    assert normalize_server_url("http://h:8765/") == "http://h:8765"
    assert url_without_credentials("https://bob:s3cret@tracking.example:8443/x/") == "https://tracking.example:8443/x"
    assert url_without_credentials("http://[::1]:8765") == "http://[::1]:8765"
    assert url_without_credentials("http://u:p@[::1]:8765") == "http://[::1]:8765"
    assert is_loopback("http://127.0.0.1:1") and is_loopback("http://localhost") and is_loopback("http://[::1]:2")
    assert not is_loopback("http://tracking.example") and not is_loopback("http://10.0.0.1")


def test_redaction_covers_the_key_and_url_passwords() -> None:
    conn = TrackingConnection(url="http://bob:pw123@h:1", api_key="lt_key_abc")
    assert conn.public_url == "http://h:1"
    assert conn.redact("sent lt_key_abc to http://bob:pw123@h:1") == "sent *** to http://bob:***@h:1"
    assert redact("nothing here", "") == "nothing here"


def test_track_request_parsing() -> None:
    parsed = TrackRequest.parse(json.dumps({"path": "/a/b.ipynb", "task_id": "a" * 32, "name": "  "}).encode())
    assert (parsed.path, parsed.task_id, parsed.name, parsed.project) == ("a/b.ipynb", "a" * 32, None, None)
    for body, words in [(b"", "'path'"), (b'{"path": 3}', "'path'"), (b'{"path": "x.ipynb", "project": 1}', "'project'")]:
        with pytest.raises(TrackRequestError, match=words):
            TrackRequest.parse(body)
    assert notebook_stem("dir/train model.ipynb") == "train model"


def test_snapshot_keeps_cells_and_drops_outputs() -> None:
    nb = nbformat.v4.new_notebook()
    code = nbformat.v4.new_code_cell("print(1)\n", execution_count=4)
    code.outputs = [nbformat.v4.new_output("stream", text="1\n")]
    code.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# t"), code, nbformat.v4.new_raw_cell("raw")]
    snapshot = snapshot_notebook(nb)
    assert [(c["cell_type"], "".join(c["source"])) for c in snapshot["cells"]] == [
        ("markdown", "# t"), ("code", "print(1)\n"), ("raw", "raw")]
    assert snapshot["cells"][1]["outputs"] == [] and snapshot["cells"][1]["execution_count"] is None
    assert snapshot["cells"][1]["metadata"]["tags"] == ["parameters"]  # papermill's parameters cell survives
    assert [c["id"] for c in snapshot["cells"]] == [c["id"] for c in nb.cells]
    assert nb.cells[1].outputs  # the caller's notebook is untouched


def test_kernel_python_resolution() -> None:
    import sys

    assert kernel_python(["python", "-m", "ipykernel_launcher"]) == sys.executable
    assert kernel_python(["/opt/env/bin/python", "-m", "ipykernel"]) == "/opt/env/bin/python"


def test_api_urls_are_assembled_from_the_configured_server_only() -> None:
    from labtrack.server_ext.upstream import UnsafeApiPath, api_url

    url = api_url("https://u:pw@tracking.example:8443/team/", "tasks/a%2Fb/events", "after=1&next=http://evil")
    assert (url.scheme, url.host, url.port, url.userinfo) == ("https", "tracking.example", 8443, b"u:pw")
    assert url.raw_path == b"/team/api/v1/tasks/a%2Fb/events?after=1&next=http://evil"
    assert api_url("http://h:1", "runs/50%/é").raw_path == b"/api/v1/runs/50%25/%C3%A9"
    for path in ("http://evil/x", "evil:80/x", "%2F%2Fevil/x", "%25%32%46%25%32%46evil", "a\\b", "a/%2e%2e/b", "%2525252525"):
        with pytest.raises(UnsafeApiPath, match="Refused API path"):
            api_url("http://h:1", path)
