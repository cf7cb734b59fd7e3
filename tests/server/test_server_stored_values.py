"""What the two databases can't both store is answered alike on SQLite and PostgreSQL, and the
OpenAPI document says so (so the fuzz test's "schema-valid request accepted" check holds):

- NUL (U+0000), which PostgreSQL text can't hold: refused (422) in text kept in a column of its own
  (names, comments, tags, messages, metric names, text filters), kept as is in JSON-valued fields,
  and shown as U+FFFD in captured console output (one NUL never costs a batch its points);
- JSON numbers past 64-bit integers: stored as the nearest double, as every JSON reader sees them.
"""

from __future__ import annotations

from server_helpers import Api, error

NUL = "a\x00b"


def _nul_rule_of(api: Api, schema: str, field: str) -> object:
    """What the document says a field's text must not match."""
    doc = api.get("/openapi.json").json()
    prop = doc["components"]["schemas"][schema]["properties"][field]
    branches = prop.get("anyOf", [prop])
    return next((b.get("not") for b in branches if b.get("type") == "string"), None)


def test_nul_is_refused_alike_in_text_columns_and_stated(api: Api) -> None:
    task = api.task("nul", "nulproj")
    assert _nul_rule_of(api, "TaskCreate", "name") == {"pattern": r"[\x00]"}
    assert _nul_rule_of(api, "TaskPatch", "comment") == {"pattern": r"[\x00]"}
    for body in ({"name": NUL, "project_name": "nulproj"}, {"name": "x", "project_name": "nulproj", "tags": [NUL]},
                 {"name": "x", "project_name": "nulproj", "comment": NUL}):
        assert "NUL" in error(api.post("/tasks", json=body), 422)["message"], body
    error(api.patch(f"/tasks/{task['id']}", json={"status_message": NUL}), 422)
    error(api.post("/projects", json={"name": "p2", "description": NUL}), 422)
    error(api.post(f"/tasks/{task['id']}/artifacts", json={"key": "k", "uri": "s3://b/k", "filename": NUL}), 422)
    for params in ({"search": NUL}, {"user": NUL}, {"tags": NUL}, {"project": NUL}):
        error(api.get("/tasks", params=params), 422)
    error(api.get("/projects", params={"search": NUL}), 422)
    for path, params in (("/models", {"search": NUL}), ("/models", {"framework": NUL}), ("/datasets", {"name": NUL})):
        error(api.get(path, params=params), 422)
    upload = api.put(f"/tasks/{task['id']}/artifacts/up", params={"filename": NUL}, data=b"x",
                     headers={"Content-Type": "application/octet-stream"})
    error(upload, 422)
    bad_metric = {"events": [{"type": "scalar", "metric": NUL, "iteration": 0, "value": 1.0}]}
    assert "NUL" in error(api.post(f"/tasks/{task['id']}/events", json=bad_metric), 422)["message"]
    # Nothing of the refused requests was stored.
    assert [t["name"] for t in api.get("/tasks", params={"project": "nulproj"}).json()["items"]] == ["nul"]


def test_nul_in_json_values_is_kept_and_in_console_output_shown_as_replacement(api: Api) -> None:
    task = api.task("json-nul", "nulproj", hyperparams={"args": {"sep": {"value": NUL}}})
    assert api.get(f"/tasks/{task['id']}").json()["hyperparams"]["args"]["sep"]["value"] == NUL
    batch = {"events": [{"type": "console", "text": f"progress{NUL}\n"},
                        {"type": "scalar", "metric": "loss", "iteration": 0, "value": 0.5}]}
    answer = api.post(f"/tasks/{task['id']}/events", json=batch)
    assert answer.status_code == 200, answer.text
    assert [line["text"] for line in api.get(f"/tasks/{task['id']}/console").json()["items"]] == ["progress" + "a\ufffdb\n"]
    assert api.get(f"/tasks/{task['id']}/scalars", params={"metric": "loss"}).json()["values"] == [0.5]


def test_numbers_past_64_bit_integers_are_stored_as_doubles(api: Api) -> None:
    task = api.task("big", "nulproj")
    flops = 6 * 7_000_000_000 * 2_000_000_000_000  # a training run's FLOPs, computed in integers
    metadata = {"flops": flops, "nested": [{"n": -(2**64) - 1}], "fits": 2**63 - 1}
    answer = api.post(f"/tasks/{task['id']}/artifacts", json={"key": "m", "uri": "s3://b/m", "metadata": metadata})
    assert answer.status_code == 201, answer.text
    stored = api.get(f"/tasks/{task['id']}/artifacts/m").json()["metadata"]
    assert stored == {"flops": float(flops), "nested": [{"n": float(-(2**64) - 1)}], "fits": 2**63 - 1}
    # Past a double's range there is no number to keep: refused, never a 500.
    error(api.patch(f"/tasks/{task['id']}/artifacts/m", json={"metadata": {"huge": 10**400}}), 422)
