"""Big artifact transfers say how far along they are; small ones stay quiet."""

from __future__ import annotations

from labtrack.sdk.progress import MIN_REPORTED_BYTES, TransferProgress


def test_a_big_upload_and_download_report_progress(scripts) -> None:
    code = """
import os, labtrack
with open("big.bin", "wb") as fh:
    fh.write(os.urandom(20 * 1024 * 1024))
with open("small.bin", "wb") as fh:
    fh.write(b"x" * 1000)
task = labtrack.Task.init("sdk/progress", "big artifact")
task.upload_artifact("big", "big.bin", wait_on_upload=True)
task.upload_artifact("small", "small.bin", wait_on_upload=True)
again = labtrack.Task.get_task(task_id=task.id)
path = again.artifacts["big"].get_local_copy()
assert os.path.getsize(path) == 20 * 1024 * 1024
again.artifacts["small"].get_local_copy()
"""
    proc = scripts.run(code)
    assert "labtrack: uploading artifact 'big' 100% (21.0 MB / 21.0 MB" in proc.stderr, proc.stderr
    assert "labtrack: downloading artifact 'big' 100% (21.0 MB / 21.0 MB" in proc.stderr, proc.stderr
    assert "'small'" not in proc.stderr


def test_progress_lines_are_throttled() -> None:
    now = [0.0]
    lines: list[str] = []
    progress = TransferProgress("uploading artifact 'x'", 100 * MIN_REPORTED_BYTES, lines.append, clock=lambda: now[0])
    for _ in range(100):
        now[0] += 0.5
        progress.advance(MIN_REPORTED_BYTES)
    progress.finish()
    # 50 s of transfer, one line every 2 s, plus the final one.
    assert len(lines) == 26
    assert lines[-1].startswith("labtrack: uploading artifact 'x' 100% (1,677.7 MB / 1,677.7 MB")
