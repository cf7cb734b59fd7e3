"""The registry over HTTP and the SDK: publish makes a model immutable (409), filters, sort and paging."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from model_helpers import Api

from labtrack.sdk.client import ApiClient
from labtrack.sdk.models import InputModel, Model, ModelError, OutputModel


class FakeTask:
    """A stand-in for `Task` where only the server-side task matters (created over HTTP)."""

    def __init__(self, client: ApiClient, project: str, name: str) -> None:
        record = client.post("/tasks", {"name": name, "project_name": project})
        self.id, self.name, self.offline, self.client = record["id"], name, False, client


def _weights(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_publish_makes_a_model_immutable(api: Api, client: ApiClient, tmp_path: Path) -> None:
    task = FakeTask(client, "registry", "train")
    model = OutputModel(task, name="frozen", framework="numpy")
    error = api.refused("POST", f"/models/{model.id}/publish", 409)
    assert error["code"] == "no_weights"

    model.update_weights(_weights(tmp_path, "w1.bin", b"first weights"))
    model.set_metadata("epochs", 3, "int")
    model.publish()
    assert model.published and api.ok("GET", f"/models/{model.id}")["published_at"]

    # Weights, metadata, labels, name, framework: each a clear 409 and nothing changes.
    with pytest.raises(ModelError) as caught:
        model.update_weights(_weights(tmp_path, "w2.bin", b"second weights"))
    assert caught.value.status == 409 and "published" in str(caught.value)
    stale = Model(model.id, client=client)
    stale._record["published"] = False  # a copy read before the publish: the server still refuses
    with pytest.raises(ModelError) as caught:
        OutputModel.update_weights(stale, tmp_path / "w2.bin")  # type: ignore[arg-type]
    assert (caught.value.status, caught.value.code) == (409, "model_published")
    error = api.refused("PUT", f"/models/{model.id}/weights", 409, data=b"raw bytes")
    assert error["code"] == "model_published"
    with pytest.raises(ModelError) as caught:
        model.set_metadata("epochs", 4, "int")
    assert caught.value.status == 409
    for body in ({"labels": {"a": 1}}, {"name": "renamed"}, {"framework": "torch"}, {"metadata": {"epochs": None}}):
        assert api.refused("PATCH", f"/models/{model.id}", 409, json=body)["code"] == "model_published"
    assert api.refused("DELETE", f"/models/{model.id}", 409)["code"] == "model_published"

    stored = api.ok("GET", f"/models/{model.id}")
    assert stored["sha256"] == hashlib.sha256(b"first weights").hexdigest() and stored["name"] == "frozen"
    assert stored["metadata"] == {"epochs": {"value": "3", "type": "int"}} and stored["framework"] == "numpy"
    assert Path(InputModel(model.id, client=client).get_local_copy()).read_bytes() == b"first weights"
    # Bookkeeping stays editable; publishing again changes nothing.
    assert api.ok("PATCH", f"/models/{model.id}", json={"tags": ["best"], "comment": "v1"})["tags"] == ["best"]
    assert api.ok("POST", f"/models/{model.id}/publish")["published_at"] == stored["published_at"]


def _make(api: Api, **body: Any) -> dict[str, Any]:
    return api.ok("POST", "/models", json=body)


def test_filters_sort_and_paging(any_tracking_server: Any, client_home: Path) -> None:
    api = Api(any_tracking_server)
    client = ApiClient(any_tracking_server.url, any_tracking_server.api_key)
    made = [
        _make(api, name="resnet", project="vision", framework="PyTorch", tags=["prod", "cnn"]),
        _make(api, name="resnet", project="vision", framework="PyTorch", tags=["cnn"]),
        _make(api, name="ViT-small", project="vision", framework="PyTorch", tags=["prod"]),
        _make(api, name="bert", project="nlp", framework="TensorFlow", tags=["prod"]),
        _make(api, name="tfidf", project="nlp", framework="scikit-learn"),
    ]
    ids = [m["id"] for m in made]
    api.ok("PUT", f"/models/{ids[0]}/weights", data=b"w")
    api.ok("POST", f"/models/{ids[0]}/publish")

    def names(**params: Any) -> list[str]:
        return [m["id"] for m in api.ok("GET", "/models", params={"limit": 1000, **params})["items"]]

    assert names(project="vision") == [ids[2], ids[1], ids[0]]  # newest first by default
    assert names(project="nowhere") == []
    assert names(name="resnet") == [ids[1], ids[0]]
    assert names(search="vit") == [ids[2]]
    assert names(tags="prod") == [ids[3], ids[2], ids[0]]
    assert names(tags="prod,cnn") == [ids[0]]  # every tag must match
    assert names(framework="TensorFlow,scikit-learn") == [ids[4], ids[3]]
    assert names(published="true") == [ids[0]]
    assert names(published="false", project="vision") == [ids[2], ids[1]]
    by_name = api.ok("GET", "/models", params={"sort": "name"})["items"]
    assert [m["name"] for m in by_name] == ["ViT-small", "bert", "resnet", "resnet", "tfidf"]

    # Paging: two at a time, every model once, in order.
    seen, cursor = [], None
    while True:
        page = api.ok("GET", "/models", params={"sort": "-name", "limit": 2, **({"cursor": cursor} if cursor else {})})
        seen += [m["id"] for m in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == 5 and set(seen) == set(ids)
    assert [m["name"] for m in by_name][::-1] == [api.ok("GET", f"/models/{i}")["name"] for i in seen]

    # The SDK's query_models and InputModel look-ups read the same registry.
    assert [m.id for m in Model.query_models("vision", "resnet", client=client)] == [ids[1], ids[0]]
    assert [m.id for m in Model.query_models(tags=["prod"], only_published=True, client=client)] == [ids[0]]
    assert [m.id for m in Model.query_models(project_name="nlp", max_results=1, client=client)] == [ids[4]]
    assert InputModel(name="resnet", project="vision", client=client).id == ids[1]  # the newest
    assert InputModel(name="resnet", only_published=True, client=client).id == ids[0]
