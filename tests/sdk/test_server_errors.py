"""A server that answers 5xx is a server to wait for, never a reason to drop data; a 4xx refusal is
set aside for a person, and the task says so."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from polling import read_line
from tests.sdk.conftest import task_id_from, wait_for
from tests.sdk.flaky_proxy import FlakyProxy

# Recovery times and memory are measured: `make test` runs this module alone, after the parallel pass.
pytestmark = pytest.mark.serial

LOOP = """
import time, labtrack
task = labtrack.Task.init("sdk/server-errors", "{name}", capture_code=False, capture_packages=False)
print("TASK", task.id, flush=True)
log = task.get_logger()
for i in range({n}):
    log.report_scalar("loss", "train", i * 0.5, i)
    if i % 100 == 0:
        log.report_text(f"step {{i}}")
    time.sleep({sleep})
print("LOOP DONE", flush=True)
"""


@pytest.fixture
def proxy(tracking_server):
    flaky = FlakyProxy(tracking_server.url).start()
    yield flaky
    flaky.stop()


@pytest.mark.parametrize("status, retry_after", [(503, "1"), (500, None)])
def test_a_server_answering_5xx_for_a_while_loses_nothing(scripts, proxy, tmp_path, status, retry_after) -> None:
    spool = tmp_path / "spool"
    n = 2500
    proc = scripts.start(LOOP.format(name=f"http-{status}", n=n, sleep=0.004),
                         LABTRACK_API_URL=proxy.url, LABTRACK_SPOOL_DIR=str(spool))
    task_id = task_id_from(read_line(proc, what="the TASK line"))
    wait_for(lambda: (scripts.get(f"/tasks/{task_id}")["last_iteration"] or 0) > 100, what="points before the outage")
    # Longer than the old "5 attempts then give up" (0.25 + 0.5 + 1 + 2 s of backoff).
    proxy.fail_for(8.0, status, retry_after)
    time.sleep(3.0)
    assert proc.poll() is None, "the training process must survive the outage"
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert proxy.failed > 3, f"the outage was not seen ({proxy.failed} failed requests)"

    its, vals = scripts.series(task_id, "loss", "train")
    assert its == list(range(n)), f"{len(its)} of {n} points arrived"
    assert vals == [i * 0.5 for i in range(n)]
    console = "".join(i["text"] for i in scripts.get(f"/tasks/{task_id}/console", tail=10000)["items"])
    assert [f"step {i}" for i in range(0, n, 100)] == [ln for ln in console.splitlines() if ln.startswith("step ")]
    task = scripts.get(f"/tasks/{task_id}")
    assert task["status"] == "completed" and task["status_message"] == "", task
    assert "refused" not in err and not list(spool.glob("*/rejected")), err


def test_a_refused_operation_is_set_aside_and_the_status_message_says_so(scripts, tmp_path) -> None:
    spool = tmp_path / "spool"
    code = """
import labtrack
task = labtrack.Task.init("sdk/server-errors", "refused", capture_code=False, capture_packages=False)
print("TASK", task.id, flush=True)
log = task.get_logger()
for i in range(1000):
    log.report_scalar("loss", "train", float(i), i)
task.set_name("x" * 5000)  # longer than the server allows: refused with a 4xx
for i in range(1000, 2000):
    log.report_scalar("loss", "train", float(i), i)
"""
    proc = scripts.run(code, LABTRACK_SPOOL_DIR=str(spool))
    task_id = task_id_from(proc.stdout)
    its, _ = scripts.series(task_id, "loss", "train")
    assert its == list(range(2000)), "what follows a refused operation is sent"
    task = scripts.get(f"/tasks/{task_id}")
    assert task["status"] == "completed" and task["name"] == "refused"
    rejected = list(spool.glob("*/rejected/*.json"))
    assert len(rejected) == 1, proc.stderr
    assert task["status_message"] == f"1 operation(s) rejected by the server, see {rejected[0].parent}", task
    kept = Path(rejected[0]).read_text()
    assert '"op":"patch"' in kept.replace(" ", "") and '"status":422' in kept.replace(" ", ""), kept
    assert proc.stderr.count("refused an operation") == 1, proc.stderr
