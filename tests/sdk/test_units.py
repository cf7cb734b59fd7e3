"""Pieces that need no server: hyperparameter typing, the lock-free buffer hand-off, batching."""

from __future__ import annotations

import threading

import pytest

from labtrack.sdk import params, transport
from labtrack.sdk.client import ApiClient
from labtrack.sdk.errors import ConfigurationError
from labtrack.sdk.logger import Logger


@pytest.mark.parametrize("value", [0, -7, 10**20, 0.1 + 0.2, 1e-300, float("inf"), "", "0.5", True, False,
                                   None, [1, "a", None], {"a": {"b": [1.5]}}, (1, 2)])
def test_hyperparameter_round_trip(value) -> None:
    enc = params.encode_value(value)
    assert isinstance(enc["value"], str)
    back = params.decode_value(enc["value"], enc["type"])
    assert back == value and type(back) is type(value)


class _FakeTask:
    """The logger only needs a task for images and flush; scalars never touch it."""


def test_drain_hands_off_every_point_once_while_another_thread_reports() -> None:
    logger = Logger(_FakeTask())  # type: ignore[arg-type]
    n = 200_000
    got: list[int] = []
    stop = threading.Event()

    def sender() -> None:
        while not stop.is_set():
            for ev in logger.drain():
                got.extend(ev["iterations"])
        for ev in logger.drain(final=True):
            got.extend(ev["iterations"])

    thread = threading.Thread(target=sender)
    thread.start()
    for i in range(n):
        logger.report_scalar("a", "b", i, i)
    stop.set()
    thread.join()
    assert got == list(range(n))


def test_nonfinite_and_bad_values() -> None:
    logger = Logger(_FakeTask())  # type: ignore[arg-type]
    for i, v in enumerate([1, float("nan"), float("inf"), float("-inf"), "oops"]):
        logger.report_scalar("a", "b", v, i)
    (event,) = logger.drain()
    assert event["values"] == [1.0, "NaN", "Infinity", "-Infinity"] and event["iterations"] == [0, 1, 2, 3]


def test_listeners_and_console_lines() -> None:
    logger = Logger(_FakeTask())  # type: ignore[arg-type]
    seen = []
    fn = lambda *a: seen.append(a)  # noqa: E731
    logger.add_scalar_listener(fn)
    logger.report_scalar("t", "s", 0.5, 3)
    logger.remove_scalar_listener(fn)
    logger.report_scalar("t", "s", 0.7, 4)
    assert seen == [("t", "s", 3, 0.5)]
    logger.write_console("stdout", "abc")
    logger.write_console("stdout", "def\nghi")
    events = [e for e in logger.drain() if e["type"] == "console"]
    assert [e["text"] for e in events] == ["abcdef\n"]
    events = [e for e in logger.drain() if e["type"] == "console"]
    assert [e["text"] for e in events] == ["ghi"]  # a partial line waits one interval at most


def test_split_events_respects_batch_limit() -> None:
    ev = {"type": "scalars", "metric": "m", "variant": "v", "iterations": list(range(25)),
          "values": [0.0] * 25, "times": [0.0] * 25}
    batches = transport.split_events([ev, {"type": "console", "text": "x"}], limit=10)
    sizes = [sum(transport.event_points(e) for e in b) for b in batches]
    assert sizes == [10, 10, 6]
    assert sum((e.get("iterations", []) for b in batches for e in b), []) == list(range(25))


def test_split_events_keeps_text_heavy_batches_under_the_size_cap() -> None:
    # 300 console events of 64k characters (19 MiB) must not travel as one batch: the server
    # refuses bodies over its cap with 413, which would set the whole batch aside.
    lines = [{"type": "console", "stream": "stdout", "text": "y" * 64_000} for _ in range(300)]
    batches = transport.split_events(lines, max_chars=1 << 20)
    assert len(batches) > 1
    assert all(sum(transport.event_chars(e) for e in b) <= 1 << 20 for b in batches)
    assert sum(len(b) for b in batches) == 300


def test_client_configuration_order(monkeypatch, tmp_path) -> None:
    from labtrack import paths

    monkeypatch.setenv("LABTRACK_HOME", str(tmp_path))
    monkeypatch.delenv("LABTRACK_API_URL", raising=False)
    monkeypatch.delenv("LABTRACK_API_KEY", raising=False)
    paths.write_config({"api_url": "http://config:1", "api_key": "kc"})
    assert ApiClient.from_environment().url == "http://config:1"
    monkeypatch.setenv("LABTRACK_API_URL", "http://env:2/")
    monkeypatch.setenv("LABTRACK_API_KEY", "ke")
    client = ApiClient.from_environment()
    assert (client.url, client.api_key) == ("http://env:2", "ke")
    assert ApiClient.from_environment("http://explicit:3/api/v1", "kx").url == "http://explicit:3"
    assert "ke" not in repr(client)
    with pytest.raises(ConfigurationError):
        ApiClient("", "k")


def test_sender_spools_past_memory_bound_and_reports_what_is_kept(tmp_path) -> None:
    """With the server unreachable (nothing listens on the port), data moves to disk in order."""
    from labtrack.sdk.spool import SessionFolder

    produced = []

    def source(final: bool) -> list:
        if len(produced) >= 5:
            return []
        start = len(produced) * 100
        produced.append(start)
        return [{"type": "scalars", "metric": "m", "variant": "v", "iterations": list(range(start, start + 100)),
                 "values": [1.0] * 100, "times": [0.0] * 100}]

    sender = transport.Sender(ApiClient("http://127.0.0.1:9", "k"), "t" * 32, tmp_path / "spool",
                              max_memory_points=250)
    sender.add_source(source)
    for _ in range(5):
        sender.collect_now()
    folder = SessionFolder(tmp_path / "spool")
    ops = [folder.read_op(path) for _, path in folder.iter_ops()]
    assert [op["events"][0]["iterations"][0] for op in ops] == [0, 100, 200]  # spooled in order at 300 > 250
    report = sender.close(timeout=0.3)
    assert report and "5 batch(es) (500 events)" in report and str(tmp_path / "spool") in report
    ops = [folder.read_op(path) for _, path in folder.iter_ops()]
    assert [op["events"][0]["iterations"][0] for op in ops] == [0, 100, 200, 300, 400]
    assert len({op["batch_id"] for op in ops}) == 5 and folder.meta()["task_id"] == "t" * 32


def test_bad_artifact_names_are_refused_with_a_clear_message(tmp_path, monkeypatch) -> None:
    from labtrack.sdk.task import Task

    monkeypatch.setenv("LABTRACK_OFFLINE_DIR", str(tmp_path))
    task = Task._create_offline("p", "n", "training", None)
    try:
        for bad in ("", ".hidden", "a/b", "x" * 129, "sp ace"):
            with pytest.raises(ConfigurationError, match="is not allowed"):
                task.upload_artifact(bad, {"a": 1})
        task.upload_artifact("ok-name_1.json", {"a": 1})
        assert task.artifacts["ok-name_1.json"].get() == {"a": 1}
    finally:
        task._owned = False
        task.close()


@pytest.mark.parametrize("status, later", [(500, True), (502, True), (503, True), (504, True), (401, True),
                                           (403, True), (408, True), (429, True), (400, False), (404, False),
                                           (409, False), (413, False), (422, False)])
def test_which_answers_mean_later_and_which_mean_never(status, later) -> None:
    from labtrack.sdk.errors import api_error_for, retry_later

    assert retry_later(api_error_for(status, "x", "m")) is later


def test_retry_after_is_read_as_seconds_or_a_date() -> None:
    import email.utils
    import time

    from labtrack.sdk.errors import parse_retry_after

    assert parse_retry_after("3") == 3.0 and parse_retry_after(None) is None and parse_retry_after("soon") is None
    in_ten = parse_retry_after(email.utils.formatdate(time.time() + 10, usegmt=True))
    assert in_ten is not None and 7 < in_ten <= 10


def test_names_are_checked_once_per_series_and_repaired(monkeypatch) -> None:
    from labtrack.sdk import logger as logger_module

    checked = []
    real = logger_module.clean_name
    monkeypatch.setattr(logger_module, "clean_name", lambda v, *a, **k: checked.append(v) or real(v, *a, **k))
    logger = Logger(_FakeTask())  # type: ignore[arg-type]
    for i in range(1000):
        logger.report_scalar("a\udce9", "b", i, i)
        logger.report_scalar(7, "", i, i)
    assert checked == ["a\udce9", "b", 7, ""]  # the fast path never checks again
    events = {(e["metric"], e["variant"]): e["iterations"] for e in logger.drain()}
    assert events == {("a\ufffd", "b"): list(range(1000)), ("7", ""): list(range(1000))}


def test_points_the_server_would_refuse_are_dropped_not_their_batch() -> None:
    logger = Logger(_FakeTask())  # type: ignore[arg-type]
    for i in (0, -1, 1, 2**63 - 1, 2):
        logger.report_scalar("m", "v", float(i), i)
    (event,) = logger.drain()
    assert event["iterations"] == [0, 1, 2] and len(event["times"]) == 3


def test_encoder_repairs_lone_surrogates_anywhere() -> None:
    from labtrack.sdk.encoding import dumps, loads

    op = {"op": "patch", "body": {"hyperparams": {"Args\udc80": {"x": {"value": "a\ud800b", "type": "str"}}}}}
    assert loads(dumps(op)) == {"op": "patch", "body": {"hyperparams": {"Args\ufffd": {
        "x": {"value": "a\ufffdb", "type": "str"}}}}}
    with pytest.raises(TypeError):
        dumps({"a": {1, 2}})  # no repair helps a set


def test_an_operation_that_cannot_be_sent_is_set_aside_and_what_follows_arrives(tracking_server, tmp_path) -> None:
    """Not the server's refusal, not the network: a value JSON cannot hold. It must not block the queue."""
    from labtrack.sdk.spool import SessionFolder, loads

    client = ApiClient(tracking_server.url, tracking_server.api_key)
    task_id = client.post("/tasks", json={"name": "stuck", "project_name": "sdk/units"})["id"]
    sender = transport.Sender(client, task_id, tmp_path / "spool", interval=0.05)
    sender.start()
    sender.enqueue({"op": "patch", "body": {"comment": {1, 2}}})
    sender.enqueue({"op": "events", "batch_id": "after-1", "events": [
        {"type": "scalars", "metric": "m", "variant": "v", "iterations": [0, 1], "values": [1.0, 2.0]}]})
    report = sender.close(timeout=20)
    assert report and "refused 1 operation(s)" in report, report
    page = client.get(f"/tasks/{task_id}/scalars", params={"metric": "m", "variant": "v"})
    assert page["iterations"] == [0, 1]
    (kept,) = SessionFolder(tmp_path / "spool").rejected_dir.glob("*.json")
    assert "could not be sent: TypeError" in loads(kept.read_bytes())["reason"]
