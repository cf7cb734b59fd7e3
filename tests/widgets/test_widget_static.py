"""A notebook run without a browser (nbclient, as an agent runs one) keeps the finished live chart
as a static plotly figure in the saved output, beside the widget view."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from labtrack.sdk.widgets import LIVE_CHART_MIME, PLOTLY_MIME

CELLS = [
    """import labtrack
task = labtrack.Task.init(project_name="widgets", task_name="static copy")
chart = task.live(refresh_hz=20)
chart""",
    """logger = task.get_logger()
for i in range(300):
    logger.report_scalar("loss", "train", 1.0 / (i + 1), i)
    logger.report_scalar("accuracy", "val", i / 300, i) if i % 10 == 0 else None""",
    """task.close()
chart._lt_thread.join(10)
assert not chart._lt_thread.is_alive()""",
]


def test_the_saved_output_holds_the_final_figure(tracking_server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in tracking_server.env.items():
        if name.startswith("LABTRACK_"):
            monkeypatch.setenv(name, value)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in CELLS]
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()

    (output,) = [o for o in nb.cells[0].outputs if "data" in o]
    data = output["data"]
    assert "application/vnd.jupyter.widget-view+json" in data  # still a live widget where one can run
    assert data[LIVE_CHART_MIME]["task_id"] == data[LIVE_CHART_MIME]["task_id"].strip() != ""
    traces = {t["meta"]: t for t in data[PLOTLY_MIME]["data"]}
    # The final points, not the empty chart of the moment it was displayed.
    assert traces["loss/train"]["x"][-1] == 299 and len(traces["loss/train"]["x"]) == 300
    assert traces["accuracy/val"]["x"][-1] == 290
    assert "330 points" in data["text/plain"]
    nbformat.validate(nb)
