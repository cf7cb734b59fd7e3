"""A notebook task's parameters, injected papermill-style before the notebook runs.

The task's hyperparameters become assignments in a new code cell tagged `injected-parameters`,
placed right after the cell tagged `parameters` (so they override its defaults), or first when
no cell has that tag. Every section contributes; a name in several sections takes `General`'s
value (what `task.connect(dict)` and `set_parameters({"lr": ..})` write), else the first
section's. Names that are not Python identifiers are left out (they stay readable with
`task.get_parameters()`). Values keep their stored types (`labtrack.sdk.params`).
"""

from __future__ import annotations

import copy
import keyword
from typing import Any

from labtrack.sdk.params import decode_value

INJECTED_TAG = "injected-parameters"


def notebook_parameters(hyperparams: dict[str, Any] | None) -> dict[str, Any]:
    """`{name: value}` to inject, from the task's `hyperparams` sections."""
    values: dict[str, Any] = {}
    sections = sorted((hyperparams or {}).items(), key=lambda item: item[0] == "General", reverse=True)
    for _, section in sections:  # General first: its values win
        for name, entry in (section or {}).items():
            if not name.isidentifier() or keyword.iskeyword(name) or name in values:
                continue
            if isinstance(entry, dict):
                values[name] = decode_value(str(entry.get("value", "")), str(entry.get("type", "str")))
            else:
                values[name] = entry
    return values


def _tags(cell: dict[str, Any]) -> list[str]:
    return list((cell.get("metadata") or {}).get("tags") or [])


def inject_parameters(notebook: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
    """A copy of `notebook` with the parameters cell added (unchanged when there are none)."""
    nb = copy.deepcopy(notebook)
    if not parameters:
        return nb
    source = "# Parameters injected by the labtrack agent (the task's hyperparameters)\n" + "".join(
        f"{name} = {value!r}\n" for name, value in parameters.items())
    cell: dict[str, Any] = {"cell_type": "code", "execution_count": None, "metadata": {"tags": [INJECTED_TAG]},
                            "outputs": [], "source": source}
    cells = nb.setdefault("cells", [])
    if any("id" in c for c in cells):
        cell["id"] = "labtrack-injected-parameters"
    at = next((i + 1 for i, c in enumerate(cells) if "parameters" in _tags(c)), 0)
    cells.insert(at, cell)
    return nb
