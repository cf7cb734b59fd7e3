"""One value that cannot be encoded never costs the points around it, nor the task's status."""

from __future__ import annotations

import time

from tests.sdk.conftest import task_id_from

POISONED = """
import time, labtrack
# Code and package capture off: for a script this short their background work (~1 s on a loaded
# machine) would be what the exit waits for, and the exit time is what this test measures.
task = labtrack.Task.init("sdk/bad-strings", "poisoned", capture_code=False, capture_packages=False)
print("TASK", task.id, flush=True)
log = task.get_logger()
for i in range(20000):
    log.report_scalar("loss", "train", i * 0.5, i)
    if i == 10000:
        log.report_text("bad \\udce9 text")
        log.report_scalar("acc\\udce9", "val", 1.0, i)
        log.report_scalar("acc", "val\\udcff", 2.0, i)
print("END", time.time(), flush=True)
"""


def test_lone_surrogates_are_repaired_at_the_call_and_nothing_else_is_lost(scripts, tmp_path) -> None:
    spool = tmp_path / "spool"
    proc = scripts.run(POISONED, LABTRACK_SPOOL_DIR=str(spool))
    exited = time.time()
    task_id = task_id_from(proc.stdout)
    script_end = float(next(ln.split()[1] for ln in proc.stdout.splitlines() if ln.startswith("END ")))
    assert exited - script_end < 1.0, f"exit took {exited - script_end:.2f}s after the script's end\n{proc.stderr}"

    its, vals = scripts.series(task_id, "loss", "train")
    assert its == list(range(20000)) and vals == [i * 0.5 for i in range(20000)]
    assert scripts.series(task_id, "acc\ufffd", "val") == ([10000], [1.0])
    assert scripts.series(task_id, "acc", "val\ufffd") == ([10000], [2.0])
    console = "".join(i["text"] for i in scripts.get(f"/tasks/{task_id}/console")["items"])
    assert "bad \ufffd text" in console
    task = scripts.get(f"/tasks/{task_id}")
    assert task["status"] == "completed", task

    # One warning per repaired value, naming it; no sender errors; nothing set aside.
    warnings = [ln for ln in proc.stderr.splitlines() if "cannot be encoded" in ln]
    assert len(warnings) == 3, proc.stderr
    assert any("acc\\udce9" in w for w in warnings) and any("val\\udcff" in w for w in warnings)
    assert any("bad \\udce9 text" in w for w in warnings)
    assert "sender error" not in proc.stderr, proc.stderr
    assert not spool.exists() or not any(spool.iterdir())
