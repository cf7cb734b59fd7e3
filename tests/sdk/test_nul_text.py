"""A NUL (U+0000) in text the SDK sends is stored as U+FFFD, with one warning per value: the server
refuses NUL in stored text (PostgreSQL text can't hold it), and one such value must cost neither the
task nor the points around it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.sdk.conftest import task_id_from

NUL_EVERYWHERE = """
import labtrack
task = labtrack.Task.init("sdk/nul-text", "run\\x00name", capture_code=False, capture_packages=False)
print("TASK", task.id, flush=True)
log = task.get_logger()
for i in range(3):  # the same bad names again: still one warning each
    log.report_scalar("lo\\x00ss", "tr\\x00ain", i * 0.5, i)
    log.report_scalar("loss", "clean", i * 1.0, i)
log.report_text("te\\x00xt")
"""


@pytest.fixture
def tracking_server(any_tracking_server: Any) -> Any:
    """The script runs against SQLite and PostgreSQL (the rule holds on both)."""
    return any_tracking_server


def test_a_nul_in_a_task_name_text_or_metric_name_is_stored_as_u_fffd(scripts) -> None:
    proc = scripts.run(NUL_EVERYWHERE)
    task_id = task_id_from(proc.stdout)

    task = scripts.get(f"/tasks/{task_id}")
    assert task["name"] == "run\ufffdname", task
    assert task["status"] == "completed", task
    assert scripts.series(task_id, "lo\ufffdss", "tr\ufffdain") == ([0, 1, 2], [0.0, 0.5, 1.0])
    assert scripts.series(task_id, "loss", "clean") == ([0, 1, 2], [0.0, 1.0, 2.0])
    console = "".join(i["text"] for i in scripts.get(f"/tasks/{task_id}/console")["items"])
    assert "te\ufffdxt" in console

    warnings = [ln for ln in proc.stderr.splitlines() if "holds NUL" in ln]
    assert len(warnings) == 4, proc.stderr  # task name, metric, variant, text: once each
    for shown in ("run\\x00name", "lo\\x00ss", "tr\\x00ain", "te\\x00xt"):
        assert sum(shown in w for w in warnings) == 1, (shown, proc.stderr)
    assert "sender error" not in proc.stderr and "rejected" not in proc.stderr, proc.stderr
