"""Bad input gets a clear error and damages nothing: missing files, unknown ids, wrong hashes, tampered copies."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from model_helpers import Api
from test_model_registry import FakeTask

from labtrack.sdk.client import ApiClient
from labtrack.sdk.models import CorruptedModelError, InputModel, ModelError, ModelNotFound, OutputModel

UNKNOWN = "0" * 32


@pytest.fixture
def tracking_server(module_tracking_server: Any) -> Any:
    """One server for the module: each test here makes its own tasks and models and reads only those."""
    return module_tracking_server


def _read_only(path: Path) -> bool:
    return not path.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)


def test_missing_weights_file_is_a_clear_error(api: Api, client: ApiClient, tmp_path: Path) -> None:
    model = OutputModel(FakeTask(client, "bad", "train"), name="m")
    with pytest.raises(ModelError, match="does not exist"):
        model.update_weights(tmp_path / "nope.pt")
    with pytest.raises(ModelError, match="is a folder"):
        model.update_weights(tmp_path)
    stored = api.ok("GET", f"/models/{model.id}")
    assert (stored["uri"], stored["sha256"], stored["size"]) == ("", None, None)
    with pytest.raises(ModelError, match="no weights"):
        InputModel(model.id, client=client).get_local_copy()
    assert api.refused("GET", f"/models/{model.id}/weights", 404)["code"] == "no_weights"


def test_unknown_ids_and_bad_values_are_clear_4xx(api: Api, client: ApiClient) -> None:
    with pytest.raises(ModelNotFound, match=UNKNOWN):
        InputModel(model_id=UNKNOWN, client=client)
    with pytest.raises(ModelNotFound, match="name='nope'"):
        InputModel(name="nope", project="bad", client=client)
    with pytest.raises(ModelError, match="needs model_id"):
        InputModel(client=client)
    for method, path in (("GET", f"/models/{UNKNOWN}"), ("PATCH", f"/models/{UNKNOWN}"),
                         ("POST", f"/models/{UNKNOWN}/publish"), ("DELETE", f"/models/{UNKNOWN}"),
                         ("GET", f"/models/{UNKNOWN}/weights"), ("PUT", f"/models/{UNKNOWN}/weights"),
                         ("GET", f"/tasks/{UNKNOWN}/models")):
        assert api.refused(method, path, 404, json={} if method == "PATCH" else None)["code"] == "not_found"
    task = FakeTask(client, "bad", "t")
    model = api.ok("POST", "/models", json={"name": "m", "project": "bad"})
    assert api.refused("POST", f"/tasks/{task.id}/models", 404, json={"model_id": UNKNOWN})["code"] == "not_found"
    assert api.refused("POST", f"/tasks/{UNKNOWN}/models", 404, json={"model_id": model["id"]})["code"] == "not_found"
    assert api.refused("POST", "/models", 404, json={"name": "m", "task_id": UNKNOWN})["details"] == {"task_id": UNKNOWN}
    assert "project" in api.refused("POST", "/models", 422, json={"name": "m"})["message"]
    for body in ({}, {"name": "", "project": "p"}, {"name": "m", "project": "p", "labels": {"cat": "one"}},
                 {"name": "m", "project": "p", "colour": "red"}, {"name": "m", "project": "p", "metadata": {"k": 1}}):
        assert api.refused("POST", "/models", 422, json=body)["code"] == "invalid"
    assert api.refused("GET", "/models", 422, params={"sort": "size"})["code"] == "invalid"
    assert api.refused("GET", "/models", 400, params={"cursor": "not-a-cursor"})["code"] == "bad_request"
    assert api.refused("POST", f"/tasks/{task.id}/models", 422, json={"model_id": model["id"], "role": "both"})


def test_weights_that_do_not_match_their_hash_are_not_stored(tracking_server, api: Api, client: ApiClient,
                                                            tmp_path: Path) -> None:
    model = OutputModel(FakeTask(client, "bad", "train"), name="m")
    model.update_weights((tmp_path / "good.bin").write_bytes(b"good") and tmp_path / "good.bin")
    before = api.ok("GET", f"/models/{model.id}")
    claimed = hashlib.sha256(b"what the client meant to send").hexdigest()
    error = api.refused("PUT", f"/models/{model.id}/weights", 422, params={"sha256": claimed}, data=b"other bytes")
    assert error["code"] == "hash_mismatch" and error["details"]["expected"] == claimed
    after = api.ok("GET", f"/models/{model.id}")
    assert (after["sha256"], after["size"], after["uri"]) == (before["sha256"], before["size"], before["uri"])
    folder = tracking_server.artifacts / "models" / model.id
    assert sorted(p.name for p in folder.iterdir()) == [before["sha256"]], "no partial or refused upload is left"


def test_tampered_local_copy_is_downloaded_again(api: Api, client: ApiClient, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    model = OutputModel(FakeTask(client, "bad", "train"), name="m")
    data = os.urandom(200_000)
    model.update_weights((tmp_path / "w.bin").write_bytes(data) and tmp_path / "w.bin")
    loaded = InputModel(model.id, client=client)
    path = Path(loaded.get_local_copy())
    assert path.read_bytes() == data and _read_only(path)
    capsys.readouterr()
    assert Path(loaded.get_local_copy()) == path and "does not match" not in capsys.readouterr().err  # warm: cached

    os.chmod(path, 0o644)
    path.write_bytes(data[:-1] + b"X")  # same size, one byte changed
    again = Path(InputModel(model.id, client=client).get_local_copy())
    assert again.read_bytes() == data and _read_only(again)
    assert "does not match its sha256: downloading it again" in capsys.readouterr().err


def test_damaged_server_copy_is_refused_not_cached(tracking_server, client: ApiClient, tmp_path: Path) -> None:
    model = OutputModel(FakeTask(client, "bad", "train"), name="m")
    model.update_weights((tmp_path / "w.bin").write_bytes(b"weights!") and tmp_path / "w.bin")
    (tracking_server.artifacts / "models" / model.id / model.sha256).write_bytes(b"damaged!")
    with pytest.raises(CorruptedModelError, match="may be damaged"):
        InputModel(model.id, client=client).get_local_copy()
    cached = [p for p in (Path(os.environ["LABTRACK_HOME"]) / "cache" / "models").rglob("*") if p.is_file()]
    assert cached == [], "unverified bytes never land in the cache"


def test_deletes_keep_links_honest(tracking_server, api: Api, client: ApiClient, tmp_path: Path) -> None:
    maker, user = FakeTask(client, "bad", "train"), FakeTask(client, "bad", "eval")
    model = OutputModel(maker, name="m")
    model.update_weights((tmp_path / "w.bin").write_bytes(b"w") and tmp_path / "w.bin")
    InputModel(model.id, client=client).connect(user)  # type: ignore[arg-type]
    api.ok("DELETE", f"/tasks/{maker.id}")
    kept = api.ok("GET", f"/models/{model.id}")
    assert kept["task"] is None and [u["task_id"] for u in kept["used_by"]] == [user.id]
    api.ok("DELETE", f"/models/{model.id}")
    assert api.ok("GET", f"/tasks/{user.id}/models") == {"input": [], "output": []}
    assert not (tracking_server.artifacts / "models" / model.id).exists()
