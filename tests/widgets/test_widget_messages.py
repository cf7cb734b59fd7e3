"""What the live chart sends to the browser: plotly.js must accept every relayout, and the display
bundle carries a static copy of the figure for when the widget is gone (a reopened notebook)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from labtrack.sdk.widgets import Frame, LiveScalars


class _Logger:
    def add_scalar_listener(self, listener: Any) -> None:
        pass

    def remove_scalar_listener(self, listener: Any) -> None:
        pass


class _Task:
    """What LiveScalars reads of a Task: an id, a name, a logger (no server, no threads left)."""

    id = "0123456789abcdef0123456789abcdef"
    name = "probe"
    _closed = False

    def get_logger(self) -> _Logger:
        return _Logger()


@pytest.fixture
def chart() -> Any:
    widget = LiveScalars(_Task(), refresh_hz=1000)
    widget.stop()  # frames are drawn by the test, not by the redraw thread
    yield widget
    widget.close()


def _layout_messages(widget: Any) -> list[dict]:
    """Every layout edit sent to the browser (relayout and update messages)."""
    sent: list[dict] = []

    def record(change: dict) -> None:
        msg = change["new"]
        if msg:
            sent.append(msg.get("relayout_data") or msg.get("layout_data") or {})

    widget.observe(record, names=["_py2js_relayout", "_py2js_update"])
    return sent


def _parent_conflicts(update: dict) -> list[tuple[str, str]]:
    """Key pairs plotly.js refuses in one relayout: a key and one of its parents
    ("cannot set yaxis2.domain and a parent attribute simultaneously")."""
    keys = set(update)
    return [(key, parent) for key in keys for i in range(1, key.count(".") + 1)
            if (parent := key.rsplit(".", i)[0]) in keys]


def test_adding_panels_never_sends_an_axis_with_its_own_attributes(chart: Any) -> None:
    sent = _layout_messages(chart)
    frame = Frame()
    for step, metric in enumerate(["loss", "accuracy", "lr", "grad_norm"]):
        frame.series[(metric, "train")] = ([0, 1, 2], [1.0, 0.5, 0.25 + step])
        chart._draw(Frame(dict(frame.series)))
    assert sent, "the chart sent no layout edits"
    conflicts = [c for update in sent for c in _parent_conflicts(update)]
    assert not conflicts, conflicts
    # And the panels are laid out: four stacked y axes, all x axes matched to the first.
    layout = chart.layout
    domains = [layout[f"yaxis{s}"].domain for s in ("", "2", "3", "4")]
    assert all(d is not None for d in domains) and domains == sorted(domains, reverse=True)
    assert [layout[f"xaxis{s}"].matches for s in ("2", "3", "4")] == ["x", "x", "x"]
    assert [layout[f"yaxis{s}"].title.text for s in ("", "2", "3", "4")] == ["loss", "accuracy", "lr", "grad_norm"]


def test_the_display_bundle_keeps_a_static_copy_of_the_figure(chart: Any) -> None:
    chart._draw(Frame({("loss", "train"): ([0, 1, 2], [1.0, 0.5, 0.25]),
                       ("accuracy", "val"): ([0, 2], [0.1, 0.8])}))
    bundle = chart._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == chart.model_id
    marker = bundle["application/vnd.labtrack.live-chart+json"]
    assert marker["model_id"] == chart.model_id and marker["task_id"] == _Task.id
    figure = bundle["application/vnd.plotly.v1+json"]
    json.dumps(figure)  # plain JSON, as a notebook stores it
    traces = {t["meta"]: t for t in figure["data"]}
    assert traces["loss/train"]["y"] == [1.0, 0.5, 0.25] and traces["accuracy/val"]["x"] == [0, 2]
    assert figure["layout"]["yaxis2"]["title"]["text"] == "accuracy"
    assert "probe" in bundle["text/plain"] and "5 points" in bundle["text/plain"]


def test_the_widget_state_follows_the_figure(chart: Any) -> None:
    """A view drawn late (plotly's widget code still loading when the first edits arrived, or a
    page reloaded while the kernel runs) starts from the widget's state: it must be current."""
    chart._draw(Frame({("loss", "train"): ([0, 1], [1.0, 0.5])}))
    chart._draw(Frame({("loss", "train"): ([0, 1], [1.0, 0.5]), ("accuracy", "val"): ([1], [0.7])}))
    state = {t["meta"]: t for t in chart._widget_data}
    assert state["loss/train"]["y"] == [1.0, 0.5] and state["accuracy/val"]["x"] == [1]
    assert chart._widget_layout["yaxis2"]["title"]["text"] == "accuracy"


def test_a_quiet_chart_sends_its_last_state(chart: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Frames drawn within the sync interval leave the state behind; once the chart has been quiet
    that long, the redraw loop sends it (a page reloaded after the loop then shows every point)."""
    clock = [100.0]
    monkeypatch.setattr("labtrack.sdk.widgets.time.monotonic", lambda: clock[0])
    chart._draw(Frame({("loss", "train"): ([0], [1.0])}))  # new trace: state sent
    chart._draw(Frame({("loss", "train"): ([0, 1, 2], [1.0, 0.5, 0.2])}))  # within 2 s: not sent
    assert len(chart._widget_data[0]["x"]) == 1
    chart._lt_sync_if_stale()
    assert len(chart._widget_data[0]["x"]) == 1  # not quiet for long enough yet
    clock[0] += 2.5
    chart._lt_sync_if_stale()
    assert chart._widget_data[0]["x"] == [0, 1, 2]
