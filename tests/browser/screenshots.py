"""Where browser tests save their screenshots.

Every step shot goes to `test-artifacts/browser/` (or `$LABTRACK_SCREENSHOT_DIR`). The pictures the
docs show are saved there too, unless LABTRACK_DOCS_SCREENSHOTS=1 asks for them in docs/img/:
a test run must leave the checkout as it found it, and refreshing the docs is a deliberate act.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHOT_DIR = Path(os.environ.get("LABTRACK_SCREENSHOT_DIR", ROOT / "test-artifacts" / "browser"))


def docs_img(name: str) -> Path:
    """The path for the docs picture `name` (its folder exists)."""
    folder = ROOT / "docs" / "img" if os.environ.get("LABTRACK_DOCS_SCREENSHOTS") == "1" else SHOT_DIR / "docs"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name
