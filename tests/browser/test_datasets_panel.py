"""The Datasets panel in a real JupyterLab against a real tracking server: versions made with the
SDK, a version's files, lineage, diff against its parent, the tasks that used it, and a
`Dataset.get(...)` snippet that really fetches the version."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from typing import Any

import requests

# Two versions of vision/data/faces: v2 drops b.txt, changes a.txt, adds e.txt and f/g.txt. A task
# then reads v2 with alias "train", which records it as the task's input.
MAKE_DATASETS = textwrap.dedent(
    """
    import json, pathlib, sys
    from labtrack import Dataset, Task

    root = pathlib.Path(sys.argv[1])
    (root / "v1" / "c").mkdir(parents=True)
    for name, text in {"a.txt": "alpha", "b.txt": "beta", "c/d.txt": "delta"}.items():
        (root / "v1" / name).write_text(text)
    v1 = Dataset.create(dataset_name="faces", dataset_project="vision/data", description="raw crops")
    v1.add_files(str(root / "v1"))
    v1.upload(show_progress=False)
    v1.finalize()

    (root / "v2" / "f").mkdir(parents=True)
    for name, text in {"a.txt": "alpha, relabelled", "e.txt": "epsilon", "f/g.txt": "gamma"}.items():
        (root / "v2" / name).write_text(text)
    v2 = Dataset.create("faces", "vision/data", parent_datasets=[v1], description="relabelled")
    v2.remove_files("b.txt")
    v2.add_files(str(root / "v2"))
    v2.upload(show_progress=False)
    v2.finalize()

    task = Task.init(project_name="vision", task_name="train-faces")
    Dataset.get(dataset_project="vision/data", dataset_name="faces", alias="train")
    task.close()
    print(json.dumps({"v1": v1.id, "v2": v2.id, "task": task.id}))
    """
)


def _python(code: str, env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _texts(page: Any, selector: str) -> list[str]:
    return page.eval_on_selector_all(selector, "els => els.map(e => e.textContent.trim())")


def test_datasets_panel_versions_files_lineage_diff_users_snippet(lab_page, tracking_server, tmp_path):
    ids = json.loads(_python(MAKE_DATASETS, tracking_server.env, str(tmp_path / "files")).strip().splitlines()[-1])
    page = lab_page.page
    # The panel reads nothing until it is first shown; then it lists what the SDK made.
    lab_page.command("labtrack:open-datasets")
    page.wait_for_selector(".lt-datasets .lt-ds-version", timeout=20_000)
    assert _texts(page, ".lt-ds-project .lt-ds-project-name") == ["vision/data"]
    assert _texts(page, ".lt-ds-dataset .lt-ds-name") == ["faces"]
    assert _texts(page, ".lt-ds-version .lt-ds-version-label") == ["v1.0.1", "v1.0.0"]
    assert _texts(page, ".lt-ds-version .lt-ds-state") == ["final", "final"]
    assert _texts(page, ".lt-ds-version .lt-ds-files") == ["4 files · 34 B", "3 files · 14 B"]

    # The newest version's page: its snippet, its files.
    page.click(f".lt-ds-version[data-dataset-id='{ids['v2']}']")
    view = f".lt-dataset-view[data-dataset-id='{ids['v2']}']"
    page.wait_for_selector(f"{view} .lt-ds-file")
    page.wait_for_function(
        "sel => document.querySelectorAll(sel + ' .lt-ds-file').length === 4", arg=view, timeout=20_000
    )
    assert _texts(page, f"{view} .lt-ds-file .lt-ds-path") == ["a.txt", "c/d.txt", "e.txt", "f/g.txt"]
    snippet = page.text_content(f"{view} .lt-snippet-code")
    assert 'Dataset.get(dataset_project="vision/data", dataset_name="faces", version="1.0.1")' in snippet
    # The snippet is real Python against the SDK: it fetches this very version.
    fetched = _python(snippet + "\nprint(ds.id, ds.file_count)\n", tracking_server.env)
    assert fetched.split()[-2:] == [ids["v2"], "4"]
    lab_page.shot("01-files")

    # Lineage: v1.0.0 → v1.0.1, the version itself highlighted.
    page.click(f"{view} .lt-tab[data-tab='Lineage']")
    page.wait_for_selector(f"{view} .lt-lineage-node")
    assert page.eval_on_selector_all(f"{view} .lt-lineage-node", "els => els.map(e => e.dataset.version)") == ["1.0.1", "1.0.0"]
    assert page.get_attribute(f"{view} .lt-lineage-current", "data-dataset-id") == ids["v2"]
    assert page.get_attribute(f"{view} .lt-lineage-edge", "data-edge") == f"{ids['v1']}->{ids['v2']}"
    lab_page.shot("02-lineage", view)

    # Diff against the parent: + e.txt f/g.txt, − b.txt, M a.txt.
    page.click(f"{view} .lt-tab[data-tab='Diff']")
    page.wait_for_selector(f"{view} .lt-ds-change")
    counts = page.eval_on_selector_all(f"{view} .lt-ds-diff-summary .lt-chip", "els => els.map(e => [e.dataset.kind, e.dataset.count])")
    assert counts == [["added", "2"], ["removed", "1"], ["changed", "1"]]
    changes = page.eval_on_selector_all(f"{view} .lt-ds-change", "els => els.map(e => [e.dataset.kind, e.dataset.path])")
    assert changes == [["changed", "a.txt"], ["removed", "b.txt"], ["added", "e.txt"], ["added", "f/g.txt"]]
    page.click(f"{view} .lt-chip[data-kind='added']")
    page.wait_for_function(
        "sel => document.querySelectorAll(sel + ' .lt-ds-change').length === 2", arg=view, timeout=10_000
    )
    page.click(f"{view} .lt-chip[data-kind='added']")
    lab_page.shot("03-diff")

    # Which tasks used it: the task that read it as "train"; a click opens its task view.
    page.click(f"{view} .lt-tab[data-tab='Used by']")
    page.wait_for_selector(f"{view} .lt-ds-users tr[data-task-id='{ids['task']}']")
    assert _texts(page, f"{view} .lt-ds-users tbody td:nth-child(2)") == ["train"]
    page.click(f"{view} .lt-ds-users .lt-link")
    page.wait_for_selector(f"#labtrack-task-{ids['task']}")

    # The first version has no parent: the diff says so instead of an empty list.
    page.click(f".lt-ds-version[data-dataset-id='{ids['v1']}']")
    first = f".lt-dataset-view[data-dataset-id='{ids['v1']}']"
    page.wait_for_selector(f"{first} .lt-ds-file")
    page.click(f"{first} .lt-tab[data-tab='Diff']")
    assert "no parent" in page.text_content(f"{first} .lt-empty")

    # Search filters the tree; a filter that matches nothing says so.
    page.fill(".lt-ds-search", "nothing-like-this")
    page.wait_for_selector(".lt-datasets .lt-empty")
    assert page.text_content(".lt-datasets .lt-empty") == "No datasets match this filter."
    page.fill(".lt-ds-search", "fac")
    page.wait_for_selector(".lt-ds-version")

    # Dark theme: the Diff tab of v1.0.1 with the sidebar.
    page.click(f".lt-ds-version[data-dataset-id='{ids['v2']}']")
    page.click(f"{view} .lt-tab[data-tab='Diff']")
    page.wait_for_selector(f"{view} .lt-ds-change")
    lab_page.set_theme(dark=True)
    lab_page.shot("04-dark")


def test_datasets_panel_pages_100k_files(lab_page, tracking_server):
    """A 100,000-file version: the Files tab shows its first page fast, keeps ~100 rows in the
    DOM, and pages through the whole manifest with the server's cursor as it scrolls."""
    session = requests.Session()
    session.headers.update(tracking_server.headers)
    api = tracking_server.api
    draft = session.post(f"{api}/datasets", json={"project": "big/data", "name": "many"}, timeout=30).json()
    total = 100_000
    for start in range(0, total, 10_000):
        batch = [
            {"path": f"shard{i // 1000:03d}/file{i:06d}.bin", "size": i, "sha256": f"{i:064x}"}
            for i in range(start, start + 10_000)
        ]
        answer = session.post(f"{api}/datasets/{draft['id']}/files", json={"add": batch}, timeout=120)
        assert answer.status_code == 200, answer.text[:300]

    page = lab_page.page
    lab_page.command("labtrack:open-datasets")
    page.wait_for_selector(f".lt-ds-version[data-dataset-id='{draft['id']}']", timeout=20_000)
    assert page.text_content(".lt-ds-version .lt-ds-state") == "draft"
    started = time.monotonic()
    page.click(f".lt-ds-version[data-dataset-id='{draft['id']}']")
    view = f".lt-dataset-view[data-dataset-id='{draft['id']}']"
    page.wait_for_selector(f"{view} .lt-ds-file")
    first_rows = time.monotonic() - started
    # A draft's snippet asks for drafts too (Dataset.get leaves them out otherwise) and lists its
    # files (a draft has no local copy yet); pasted as it is, it works.
    snippet = page.text_content(f"{view} .lt-snippet-code")
    assert "include_drafts=True" in snippet
    assert _python(snippet + "\nprint(len(files))\n", tracking_server.env).split()[-1] == str(total)
    assert page.eval_on_selector_all(f"{view} .lt-ds-file", "els => els.length") < 120

    # Scroll to the end, page after page, until the whole manifest is loaded.
    started = time.monotonic()
    deadline = started + 120
    while int(page.get_attribute(f"{view} .lt-ds-files-count", "data-loaded")) < total:
        assert time.monotonic() < deadline, "the files list did not page through 100,000 files in 120 s"
        page.eval_on_selector(f"{view} .lt-ds-file-list", "el => { el.scrollTop = el.scrollHeight; }")
        page.wait_for_timeout(50)
    scrolled = time.monotonic() - started
    # The last page grew the list under the scroll position: go to its new end.
    page.eval_on_selector(f"{view} .lt-ds-file-list", "el => { el.scrollTop = el.scrollHeight; }")
    page.wait_for_selector(f"{view} .lt-ds-file[data-path='shard099/file099999.bin']")
    assert page.eval_on_selector_all(f"{view} .lt-ds-file", "els => els.length") < 120
    print(f"100k files: first rows {first_rows:.2f} s, all {total} paged in {scrolled:.1f} s")
    lab_page.shot("01-100k-files")
