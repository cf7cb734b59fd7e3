"""Print the requirements of one extra of the installed labtrack, one per line (for pip -r).

`make test` runs this after `make lab`'s install to add the test tools (the `dev` extra) without
re-installing labtrack itself, which would rebuild the lab extension. It reads the installed
package's metadata, which the install made from pyproject.toml.

Usage: python scripts/extra-requirements.py EXTRA
"""

from __future__ import annotations

import sys
from importlib.metadata import requires

from packaging.requirements import Requirement


def extra_requirements(extra: str, distribution: str = "labtrack") -> list[str]:
    """The requirements that `distribution[extra]` adds, without their `extra == ...` marker."""
    lines = []
    for text in requires(distribution) or []:
        requirement = Requirement(text)
        marker = requirement.marker
        if marker is None or not marker.evaluate({"extra": extra}) or marker.evaluate({"extra": ""}):
            continue  # a base requirement, or one of another extra
        requirement.marker = None
        lines.append(str(requirement))
    return lines


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    found = extra_requirements(sys.argv[1])
    if not found:
        sys.exit(f"labtrack has no extra {sys.argv[1]!r} (or it is not installed)")
    print("\n".join(found))
