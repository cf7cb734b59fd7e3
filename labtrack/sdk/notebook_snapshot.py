"""A notebook as a task stores it (`script.notebook`): nbformat v4 JSON with its exact cells, outputs left out.

One definition for everyone who snapshots a notebook: the Track button (the Jupyter server
extension, from the contents manager) and the SDK (`Task.create(notebook=...)`,
`execute_remotely` in a kernel, from the saved file). Outputs are dropped because they can be
megabytes of images re-sent on every save, and a remote run re-creates them; sources, cell types,
ids and metadata (papermill's `parameters` tag) are kept exactly.
"""

from __future__ import annotations

import copy
import json
import os
from typing import Any


def snapshot_notebook(notebook: Any) -> dict[str, Any]:
    """The snapshot of a notebook (an nbformat node or its dict); the caller's notebook is untouched."""
    import nbformat  # here, not at the top: it pulls jsonschema in, ~1.7 s that `import labtrack` must not pay

    node = nbformat.from_dict(copy.deepcopy(dict(notebook)))
    for cell in node.get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    # Round-trip through nbformat's writer so what is stored is exactly what a .ipynb holds.
    return json.loads(nbformat.writes(node, version=nbformat.NO_CONVERT))


def read_snapshot(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The snapshot of the notebook saved at `path` (upgraded to v4 when older).

    Raises:
        nbformat's and json's errors (ValueError, ValidationError) for a file that is no notebook.
    """
    import nbformat  # see snapshot_notebook

    return snapshot_notebook(nbformat.read(os.fspath(path), as_version=4))
