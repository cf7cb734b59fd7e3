"""The Models panel in a real JupyterLab against a real tracking server: the registry filtered by
project, tags and framework, and a model's page with the task that made it, the tasks that used it,
labels, metadata, published state and an `InputModel(...)` snippet that really loads it."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any

# linreg (numpy, tag demo, published) made by vision/train-linreg and used by vision/evaluate;
# bert (pytorch, tag baseline) made by nlp/finetune, unpublished, used by nobody.
MAKE_MODELS = textwrap.dedent(
    """
    import json, pathlib, sys
    from labtrack import InputModel, OutputModel, Task

    weights = pathlib.Path(sys.argv[1])
    weights.write_bytes(b"0123456789" * 100)
    train = Task.init(project_name="vision", task_name="train-linreg")
    linreg = OutputModel(train, name="linreg", framework="numpy", tags=["demo"], comment="a line through points")
    linreg.update_labels({"background": 0, "signal": 1})
    linreg.set_metadata("lr", 0.1, "float")
    linreg.update_weights(str(weights))
    linreg.publish()
    train.close()

    evaluate = Task.init(project_name="vision", task_name="evaluate")
    evaluate.connect(InputModel(name="linreg", project="vision"))
    evaluate.close()

    tune = Task.init(project_name="nlp", task_name="finetune")
    bert = OutputModel(tune, name="bert", framework="pytorch", tags=["baseline"])
    tune.close()
    print(json.dumps({"linreg": linreg.id, "bert": bert.id, "train": train.id, "evaluate": evaluate.id}))
    """
)


def _python(code: str, env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _names(page: Any) -> list[str]:
    return page.eval_on_selector_all(".lt-model-row .lt-task-name", "els => els.map(e => e.textContent)")


def _wait_names(page: Any, names: list[str]) -> None:
    page.wait_for_function(
        "names => JSON.stringify([...document.querySelectorAll('.lt-model-row .lt-task-name')].map(e => e.textContent)) === JSON.stringify(names)",
        arg=names,
        timeout=20_000,
    )


def test_models_panel_registry_filters_and_model_page(lab_page, tracking_server, tmp_path):
    ids = json.loads(_python(MAKE_MODELS, tracking_server.env, str(tmp_path / "w.npy")).strip().splitlines()[-1])
    page = lab_page.page
    lab_page.command("labtrack:open-models")
    _wait_names(page, ["bert", "linreg"])  # newest first
    assert page.eval_on_selector_all(".lt-model-row .lt-model-framework", "els => els.map(e => e.textContent)") == ["pytorch", "numpy"]
    lab_page.shot("01-registry", ".lt-models")

    # Filters run on the server: framework (any of), tags (all of), project.
    page.fill(".lt-model-frameworks", "numpy")
    page.press(".lt-model-frameworks", "Enter")
    _wait_names(page, ["linreg"])
    page.fill(".lt-model-frameworks", "")
    page.press(".lt-model-frameworks", "Enter")
    _wait_names(page, ["bert", "linreg"])
    page.fill(".lt-model-tags", "baseline")
    page.press(".lt-model-tags", "Enter")
    _wait_names(page, ["bert"])
    page.fill(".lt-model-tags", "baseline, demo")
    page.press(".lt-model-tags", "Enter")
    page.wait_for_selector(".lt-models .lt-empty")
    assert page.text_content(".lt-models .lt-empty") == "No models match these filters."
    page.fill(".lt-model-tags", "")
    page.press(".lt-model-tags", "Enter")
    _wait_names(page, ["bert", "linreg"])
    page.select_option(".lt-model-project", "vision")
    _wait_names(page, ["linreg"])

    # The model's page: made by, used by, labels, metadata, published, snippet.
    page.click(f".lt-model-row[data-model-id='{ids['linreg']}']")
    view = f".lt-model-view[data-model-id='{ids['linreg']}']"
    page.wait_for_selector(view)
    assert page.text_content(f"{view} .lt-model-published").strip() == "★ published"
    assert page.text_content(f"{view} .lt-model-task").strip() == "train-linreg"
    assert page.eval_on_selector_all(f"{view} .lt-model-users tbody tr", "els => els.map(e => e.dataset.taskId)") == [ids["evaluate"]]
    labels = page.eval_on_selector_all(f"{view} .lt-model-labels tbody tr", "els => els.map(e => [...e.cells].map(c => c.textContent))")
    assert labels == [["background", "0"], ["signal", "1"]]
    metadata = page.eval_on_selector_all(f"{view} .lt-model-metadata tbody tr", "els => els.map(e => [...e.cells].map(c => c.textContent))")
    assert metadata == [["lr", "0.1", "float"]]
    snippet = page.text_content(f"{view} .lt-snippet-code")
    assert f'InputModel(model_id="{ids["linreg"]}")' in snippet
    # The snippet is real Python, pasted as it is: it loads this model and its weights.
    loaded = _python(snippet + "\nprint(model.name, open(path, 'rb').read()[:10])\n", tracking_server.env)
    assert loaded.split()[-2:] == ["linreg", "b'0123456789'"]
    lab_page.shot("02-model-page")

    # The task that made it opens its task view.
    page.click(f"{view} .lt-model-task .lt-link")
    page.wait_for_selector(f"#labtrack-task-{ids['train']}")

    # An unpublished model with no weights, labels or users says so in words.
    page.select_option(".lt-model-project", "")
    _wait_names(page, ["bert", "linreg"])
    page.click(f".lt-model-row[data-model-id='{ids['bert']}']")
    other = f".lt-model-view[data-model-id='{ids['bert']}']"
    page.wait_for_selector(other)
    assert page.text_content(f"{other} .lt-model-draft").strip() == "draft"
    empties = page.eval_on_selector_all(f"{other} .lt-empty", "els => els.map(e => e.textContent)")
    assert empties[0].startswith("No task has used this model yet")
    assert empties[1:] == ["No labels.", "No metadata."]
    lab_page.set_theme(dark=True)
    lab_page.shot("03-dark")
