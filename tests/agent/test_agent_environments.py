"""Task environments: built once per set of requirements, reused after; GPUs and the worker record."""

from __future__ import annotations

import re
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

SHOW = '''
import os, sys
print("prefix", sys.prefix)
print("CUDA_VISIBLE_DEVICES=" + os.environ.get("CUDA_VISIBLE_DEVICES", "<unset>"))
'''
PROBE = '''
import sys, lt_agent_probe
print("probe", lt_agent_probe.WHERE, lt_agent_probe.__file__)
'''


def make_wheel(folder: Path) -> Path:
    """A minimal pure-Python wheel, so an install needs no package index (pip --no-index)."""
    folder.mkdir()
    path = folder / "lt_agent_probe-1.0-py3-none-any.whl"
    files = {
        "lt_agent_probe/__init__.py": "WHERE = 'installed by the agent'\n",
        "lt_agent_probe-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: lt-agent-probe\nVersion: 1.0\n",
        "lt_agent_probe-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(f"{name},,\n" for name in files) + "lt_agent_probe-1.0.dist-info/RECORD,,\n"
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
        zf.writestr("lt_agent_probe-1.0.dist-info/RECORD", record)
    return path


def cache_seconds(console: str) -> float:
    found = re.search(r"environment [0-9a-f]+: cache hit \(([0-9.]+) s\)", console)
    assert found, console
    return float(found.group(1))


def test_environment_is_built_once_and_reused_and_installs_only_what_is_missing(lab, tmp_path):
    wheels = make_wheel(tmp_path / "wheels").parent
    with pytest.raises(metadata.PackageNotFoundError):
        metadata.version("lt-agent-probe")  # the agent's own Python does not have it
    requests_version = metadata.version("requests")
    requirements = (f"--no-index\n--find-links {wheels}\n# a comment\nrequests=={requests_version}\n"
                    "labtrack==0.0.1\nlt-agent-probe==1.0\n")
    first = lab.script_task(PROBE, name="probe1", requirements=requirements)
    second = lab.script_task(PROBE, name="probe2", requirements=requirements)
    lab.enqueue(first)
    lab.enqueue(second)
    lab.start_agent("envs")
    for task_id in (first, second):
        assert lab.wait_status(task_id)["status"] == "completed", lab.console(task_id)
    built, reused = lab.console(first), lab.console(second)
    # Only the missing package was installed (requests is the agent's; labtrack is never installed) ...
    assert "installing 1 of 3 requirements: lt-agent-probe==1.0" in built, built
    assert re.search(r"environment [0-9a-f]+: built in", built)
    # ... into the task's venv under the workdir, not into the agent's Python.
    where = re.search(r"probe installed by the agent (\S+)", built)
    assert where and Path(where.group(1)).is_relative_to(tmp_path / "agent-work" / "envs"), built
    # The second run reuses it: no installer, about no time.
    assert "installing" not in reused and cache_seconds(reused) < 1.0, reused
    assert "probe installed by the agent" in reused


def test_gpus_set_cuda_visible_devices_and_the_worker_record_lists_resources(lab):
    task_id = lab.script_task(SHOW, name="show")
    lab.enqueue(task_id)
    lab.start_agent("gpu-box", "--gpus", "0,1")
    assert lab.wait_status(task_id)["status"] == "completed"
    console = lab.console(task_id)
    assert "CUDA_VISIBLE_DEVICES=0,1\n" in console, console
    worker = lab.workers()[0]
    assert worker["name"] == "gpu-box"
    resources = worker["resources"]
    assert resources["cpu_count"] >= 1 and resources["memory_total"] > 0
    assert resources["gpus"] == []  # this machine has no NVIDIA GPU: detected quietly as none
    assert worker["usage"] is not None and worker["usage"]["memory_used"] > 0
    assert "NVML" not in console and "Traceback" not in console


def test_install_plan_keeps_what_the_agent_has_and_skips_what_only_the_task_machine_had():
    from labtrack.agent.environments import plan_install

    have = {"torch": "2.5.1+cu124", "numpy": "2.0.1", "requests": "2.3"}
    lines = ["torch==2.5.1", "numpy>=1", "requests==1.0", "labtrack==9.9", "foo @ file:///home/me/foo",
             "-e .", "--index-url http://mirror/simple", 'old; python_version < "3"', "Requests_Toolbelt==1.0"]
    missing, options, notes = plan_install(lines, have)
    # A CUDA build satisfies the plain version; labtrack is the agent's own; markers are evaluated.
    assert missing == ["requests==1.0", "Requests_Toolbelt==1.0"]
    assert options == ["--index-url http://mirror/simple"]
    assert len(notes) == 2 and "foo @ file:///home/me/foo" in notes[0] and "-e ." in notes[1]


def test_parameters_are_injected_after_the_parameters_cell_or_first():
    from labtrack.agent.notebooks import inject_parameters, notebook_parameters

    params = notebook_parameters({"Args": {"lr": {"value": "0.5", "type": "float"}, "bad-name": {"value": "1"}},
                                  "General": {"lr": {"value": "0.1", "type": "float"},
                                              "layers": {"value": "[1, 2]", "type": "list"}}})
    assert params == {"lr": 0.1, "layers": [1, 2]}  # General wins; names Python can't assign are left out
    cells = [{"cell_type": "code", "source": "x = 1", "metadata": {}, "outputs": [], "execution_count": None},
             {"cell_type": "code", "source": "lr = 1", "metadata": {"tags": ["parameters"]}, "outputs": [],
              "execution_count": None}]
    tagged = inject_parameters({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}, params)
    assert [c["source"].splitlines()[-1] for c in tagged["cells"]] == ["x = 1", "lr = 1", "layers = [1, 2]"]
    untagged = inject_parameters({"cells": cells[:1], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}, params)
    assert "injected-parameters" in untagged["cells"][0]["metadata"]["tags"]
    assert cells[1]["metadata"] == {"tags": ["parameters"]}  # the task's snapshot itself is left as it was
