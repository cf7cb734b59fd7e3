"""From the wheel, in a fresh venv: `labtrack examples` and `labtrack lab` give an empty folder the
example notebooks, JupyterLab serves them with the wheel's lab extension, and the server
extension is listed with its version."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sysconfig
import time
from pathlib import Path

import pytest
import requests

from install_fixtures import CHECKOUT, WheelVenv
from jupyter_fixtures import clean_env, free_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]


def test_labtrack_examples_copies_the_packaged_notebooks(wheel_venv: WheelVenv, tmp_path: Path) -> None:
    # From another folder: `python -c` puts the current one first on sys.path.
    where = subprocess.run([str(wheel_venv.python), "-c", "import labtrack; print(labtrack.__file__)"],
                           cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    assert where.startswith(str(wheel_venv.root)), where  # the wheel's package, not the checkout's
    empty = tmp_path / "empty"
    empty.mkdir()
    first = subprocess.run([str(wheel_venv.labtrack), "examples"], cwd=empty, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    assert (empty / "quickstart.ipynb").read_bytes() == (CHECKOUT / "examples" / "quickstart.ipynb").read_bytes()
    assert not (empty / "make_quickstart.py").exists()
    # A second run overwrites nothing: the user's edits stay.
    (empty / "quickstart.ipynb").write_text("my edits")
    again = subprocess.run([str(wheel_venv.labtrack), "examples"], cwd=empty, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and "nothing overwritten" in again.stdout, again.stdout + again.stderr
    assert (empty / "quickstart.ipynb").read_text() == "my edits"


def test_server_extension_is_listed_with_its_version(wheel_venv: WheelVenv, tmp_path: Path) -> None:
    env = clean_env({"JUPYTER_CONFIG_DIR": str(tmp_path / "config")})
    listing = subprocess.run([str(wheel_venv.python), "-m", "jupyter_server", "extension", "list"],
                             cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    text = re.sub(r"\x1b\[[0-9;]*m", "", listing.stdout + listing.stderr)
    # Enabled by the wheel's etc/jupyter file in the fresh venv, and validated with a version.
    assert f"Config dir: {wheel_venv.root}/etc/jupyter" in text, text
    assert re.search(r"labtrack\.server_ext 0\.1\.0 OK", text), text


def test_labtrack_lab_in_an_empty_folder_serves_the_examples(wheel_venv: WheelVenv, tmp_path: Path) -> None:
    empty, home, state = tmp_path / "empty", tmp_path / "home", tmp_path / "jupyter"
    empty.mkdir()
    port, token = free_port(), "t" + str(time.time_ns())
    env = clean_env({
        "LABTRACK_HOME": str(home), "JUPYTER_TOKEN": token,
        "JUPYTER_CONFIG_DIR": str(state / "config"), "JUPYTER_DATA_DIR": str(state / "data"),
        "JUPYTER_RUNTIME_DIR": str(state / "runtime"), "JUPYTERLAB_WORKSPACES_DIR": str(state / "ws"),
        # JupyterLab's own page assets are data files of the test venv the dependencies come from.
        "JUPYTERLAB_DIR": str(Path(sysconfig.get_paths()["data"]) / "share" / "jupyter" / "lab"),
    })
    log_path = tmp_path / "lab.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([str(wheel_venv.labtrack), "lab", "--no-browser", f"--port={port}"],
                                cwd=empty, env=env, stdout=log, stderr=subprocess.STDOUT)
    base, headers = f"http://127.0.0.1:{port}/", {"Authorization": f"token {token}"}
    try:
        _wait_for_jupyter(proc, base + "api/status", headers, log_path)
        listing = requests.get(base + "api/contents", headers=headers, timeout=10).json()
        assert "quickstart.ipynb" in [item["name"] for item in listing["content"]], listing
        config = requests.get(base + "labtrack/config", headers=headers, timeout=30).json()
        assert config["connected"] and config["embedded"], config
        page = requests.get(base + "lab/tree/quickstart.ipynb", headers=headers, timeout=30)
        assert page.status_code == 200
        extensions = _page_config(page.text)["federated_extensions"]
        (ours,) = [e for e in extensions if e["name"] == "labtrack"]
        bundle = requests.get(f"{base}lab/extensions/labtrack/{ours['load']}", headers=headers, timeout=30)
        assert bundle.status_code == 200 and len(bundle.content) > 1000
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    assert "quickstart.ipynb" in log_path.read_text()


def _wait_for_jupyter(proc: subprocess.Popen, url: str, headers: dict[str, str], log_path: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, log_path.read_text()[-4000:]
        try:
            if requests.get(url, headers=headers, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise AssertionError(f"JupyterLab did not answer within 120 s:\n{log_path.read_text()[-4000:]}")


def _page_config(html: str) -> dict:
    match = re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>', html, re.S)
    assert match, html[:2000]
    return json.loads(match.group(1))
