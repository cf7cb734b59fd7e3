"""Write examples/quickstart.ipynb (run `python examples/make_quickstart.py` after editing it).

The notebook trains a small numpy MLP on synthetic "two moons" data (about 9 s of CPU) and
shows what labtrack records: hyperparameters, a live chart of loss and accuracy, a plotly
figure, a table and an artifact. It needs only numpy and plotly.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

OUT = Path(__file__).with_name("quickstart.ipynb")

INTRO = """\
# labtrack quickstart

This notebook trains a small neural network (numpy only) and records the run with labtrack:
its hyperparameters, a **live chart** of loss and accuracy, a plotly figure, a table and an
artifact. Run it top to bottom (*Run → Run All Cells*), then open the **labtrack** sidebar to
see the run.

- Click **Track** in the notebook toolbar to snapshot this notebook into its task and attach
  the kernel to it.
- Change a hyperparameter below (say `lr`) and run it again: each run is a new task. Select
  two or more in the sidebar and **Compare** them.
"""

SETUP = """\
import os
import time

# These matrices are small: one BLAS thread is faster, and on a busy machine idle BLAS threads
# spin for CPU time the training needs (set before numpy is imported).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import numpy as np
import plotly.graph_objects as go
from IPython.display import display

import labtrack

# When the notebook is tracked (Track button), the kernel is already attached to the notebook's
# task; otherwise this starts a new run in the "examples" project.
task = labtrack.Task.current_task() or labtrack.Task.init(project_name="examples", task_name="quickstart")

params = task.connect({
    "samples": 6000,     # synthetic points (80% train, 20% validation)
    "noise": 0.2,        # how much the two moons overlap
    "hidden": 192,       # units in each of the two hidden layers
    "lr": 0.05,          # SGD learning rate
    "momentum": 0.9,
    "batch_size": 64,
    "epochs": 16,
    "seed": 0,
})
params"""

DATA = """\
rng = np.random.default_rng(params["seed"])


def two_moons(n: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    \"\"\"Two interleaved half circles, labelled 0 and 1, with Gaussian noise.\"\"\"
    labels = rng.integers(0, 2, n)
    angle = rng.uniform(0, np.pi, n)
    x = np.where(labels == 0, np.cos(angle), 1 - np.cos(angle))
    y = np.where(labels == 0, np.sin(angle), 0.5 - np.sin(angle))
    points = np.stack([x, y], axis=1) + rng.normal(0, noise, (n, 2))
    return points.astype(np.float32), labels.astype(np.float32)


X, y = two_moons(params["samples"], params["noise"])
split = int(0.8 * len(X))
X_train, y_train, X_val, y_val = X[:split], y[:split], X[split:], y[split:]
print(f"{len(X_train)} training and {len(X_val)} validation points")"""

MODEL = """\
def init_weights(hidden: int) -> dict[str, np.ndarray]:
    scale = lambda fan_in: np.sqrt(2.0 / fan_in)
    return {
        "W1": rng.normal(0, scale(2), (2, hidden)).astype(np.float32), "b1": np.zeros(hidden, np.float32),
        "W2": rng.normal(0, scale(hidden), (hidden, hidden)).astype(np.float32), "b2": np.zeros(hidden, np.float32),
        "W3": rng.normal(0, scale(hidden), (hidden, 1)).astype(np.float32), "b3": np.zeros(1, np.float32),
    }


def forward(w: dict[str, np.ndarray], X: np.ndarray) -> tuple[np.ndarray, tuple]:
    h1 = np.maximum(X @ w["W1"] + w["b1"], 0)
    h2 = np.maximum(h1 @ w["W2"] + w["b2"], 0)
    p = 1 / (1 + np.exp(-(h2 @ w["W3"] + w["b3"])[:, 0]))
    return p, (X, h1, h2)


def loss_and_accuracy(p: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    eps = 1e-7
    loss = -np.mean(y * np.log(p + eps) + (1 - y) * np.log(1 - p + eps))
    return float(loss), float(np.mean((p > 0.5) == y))


def gradients(w, p, cache, y) -> dict[str, np.ndarray]:
    X, h1, h2 = cache
    d3 = ((p - y) / len(y))[:, None]
    d2 = (d3 @ w["W3"].T) * (h2 > 0)
    d1 = (d2 @ w["W2"].T) * (h1 > 0)
    return {"W3": h2.T @ d3, "b3": d3.sum(0), "W2": h1.T @ d2, "b2": d2.sum(0), "W1": X.T @ d1, "b1": d1.sum(0)}"""

TRAIN = """\
chart = task.live()  # a live plotly chart of this task's scalars, updated while the loop runs
display(chart)

logger = task.get_logger()
weights = init_weights(params["hidden"])
velocity = {k: np.zeros_like(v) for k, v in weights.items()}
summary = []
step, started = 0, time.time()
for epoch in range(params["epochs"]):
    order = rng.permutation(len(X_train))
    for start in range(0, len(order), params["batch_size"]):
        batch = order[start:start + params["batch_size"]]
        p, cache = forward(weights, X_train[batch])
        loss, accuracy = loss_and_accuracy(p, y_train[batch])
        for name, grad in gradients(weights, p, cache, y_train[batch]).items():
            velocity[name] = params["momentum"] * velocity[name] - params["lr"] * grad
            weights[name] += velocity[name]
        logger.report_scalar("loss", "train", loss, step)
        logger.report_scalar("accuracy", "train", accuracy, step)
        step += 1
    val_loss, val_accuracy = loss_and_accuracy(forward(weights, X_val)[0], y_val)
    logger.report_scalar("loss", "validation", val_loss, step)
    logger.report_scalar("accuracy", "validation", val_accuracy, step)
    summary.append({"epoch": epoch + 1, "step": step, "val_loss": round(val_loss, 4),
                    "val_accuracy": round(val_accuracy, 4), "seconds": round(time.time() - started, 2)})
print(f"{step} steps in {time.time() - started:.1f}s; validation accuracy {val_accuracy:.3f}")"""

PLOT = """\
# The learned decision boundary, as a plotly figure: shown here and stored with the task.
grid = np.linspace(-2, 3, 120, dtype=np.float32)
gx, gy = np.meshgrid(grid, grid)
prob = forward(weights, np.stack([gx.ravel(), gy.ravel()], axis=1))[0].reshape(gx.shape)
fig = go.Figure([
    go.Contour(x=grid, y=grid, z=prob, colorscale="RdBu", opacity=0.6, contours={"start": 0, "end": 1, "size": 0.1},
               colorbar={"title": "P(class 1)"}),
    go.Scatter(x=X_val[:, 0], y=X_val[:, 1], mode="markers", name="validation",
               marker={"color": y_val, "colorscale": [[0, "#b2182b"], [1, "#2166ac"]], "size": 5,
                       "line": {"width": 0.5, "color": "white"}}),
])
fig.update_layout(title="Decision boundary", width=560, height=480, xaxis_title="x", yaxis_title="y")
logger.report_plotly("decision boundary", "validation", fig, iteration=step)
fig.show()"""

TABLE = """\
# A per-epoch table, stored with the task (the task view shows it) and printed here.
logger.report_table("training summary", "per epoch", iteration=step, table=summary)
for row in summary:
    print("  ".join(f"{key}={value}" for key, value in row.items()))"""

ARTIFACT = """\
# The trained weights as an artifact (a .npz file), plus the final metrics as a JSON artifact.
np.savez("quickstart_weights.npz", **weights)
task.upload_artifact("weights", "quickstart_weights.npz", metadata={"format": "numpy npz"})
task.upload_artifact("final_metrics", {"val_loss": val_loss, "val_accuracy": val_accuracy, "steps": step})
print(task)"""

CLOSE = """\
# Mark the run completed (and wait for everything to reach the server). Run the notebook again
# for a new run to compare with this one.
task.close()
print("status:", task.status)"""


def build() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    nb.cells = [
        md(INTRO),
        code(SETUP),
        md("## Data\nTwo interleaved half moons: not linearly separable, so the network has to bend its boundary."),
        code(DATA),
        md("## Model\nA two-hidden-layer ReLU network with a sigmoid output, written in numpy."),
        code(MODEL),
        md("## Train\nLoss and accuracy are reported every step; the chart below redraws a few times a second."),
        code(TRAIN),
        md("## Results"),
        code(PLOT),
        code(TABLE),
        code(ARTIFACT),
        code(CLOSE),
    ]
    # Stable cell ids keep the file's diff small when the script is re-run.
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"quickstart-{i:02d}"
    return nb


if __name__ == "__main__":
    nbformat.write(build(), OUT)
    print(f"wrote {OUT}")
