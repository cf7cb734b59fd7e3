"""The public SDK surface against a real server: one realistic script, checked from outside."""

from __future__ import annotations

from tests.sdk.conftest import task_id_from

TRAINING_SCRIPT = r'''
import argparse, json, math, os, sys
import numpy as np, pandas as pd
from PIL import Image
import labtrack
from labtrack import Task

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, default=0.1)
parser.add_argument("--epochs", type=int, default=3)
parser.add_argument("--name", default="x")
args = parser.parse_args()          # before Task.init: still captured as section Args

task = Task.init(project_name="sdk/api", task_name="api tour", tags=["t1"])
print("TASK", task.id)
assert Task.current_task() is task
params = {"int": 3, "float": 0.1 + 0.2, "str": "hello", "bool": False, "none": None,
          "list": [1, "a", 2.5], "dict": {"k": [1, 2]}, "tuple": (1, 2)}
task.connect(params)                     # section General
class Cfg:
    depth = 18
    dropout = 0.25
task.connect(Cfg(), name="Model")
cfg = task.connect_configuration({"optimizer": {"name": "adam", "betas": [0.9, 0.999]}}, name="train.json")
task.set_parameters({"Extra/seed": 42})
task.add_tags(["t2"])
task.set_comment("a comment")

log = task.get_logger()
seen = []
log.add_scalar_listener(lambda *a: seen.append(a))
for i in range(2000):
    log.report_scalar("loss", "train", 1.0 / (i + 1), i)
    log.report_scalar("loss", "val", 2.0 / (i + 1), i)
log.report_scalar("loss", "train", float("nan"), 2000)
log.report_text("some text")
log.report_plotly("curve", "p", {"data": [{"x": [1, 2], "y": [3, 4], "type": "scatter"}], "layout": {}}, 1)
import plotly.graph_objects as go
log.report_plotly("curve", "fig", go.Figure(go.Bar(x=["a"], y=[np.float64(2.0)])), 2)
log.report_table("tbl", "df", 0, table=pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}))
log.report_table("tbl", "rows", 1, table=[["c1", "c2"], [1, 2], [3, 4]])
log.report_image("img", "ndarray", 0, image=np.random.rand(8, 8, 3))
Image.new("RGB", (5, 5), "red").save("red.png")
log.report_image("img", "pil", 0, image=Image.open("red.png"))
log.report_image("img", "path", 0, local_path="red.png")
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
fig = plt.figure(); plt.plot([1, 2, 3])
log.report_matplotlib_figure("mpl", "line", fig, 0)
print("line to console")
print("to stderr", file=sys.stderr)

os.makedirs("folder/sub", exist_ok=True)
open("folder/a.txt", "w").write("A"); open("folder/sub/b.txt", "w").write("B")
open("weights.bin", "wb").write(b"\x00\x01" * 1000)
task.upload_artifact("dict", {"a": 1, "b": [1, 2]}, metadata={"m": 1})
task.upload_artifact("file", "weights.bin")
task.upload_artifact("folder", "folder")
task.upload_artifact("frame", pd.DataFrame({"x": [1.5, 2.5], "y": [3, 4]}))
task.upload_artifact("array", np.arange(12).reshape(3, 4))
task.upload_artifact("image", Image.new("RGB", (4, 3), "blue"))
task.upload_artifact("object", {1, 2, 3})
assert task.flush(wait=True)

scalars = task.get_reported_scalars()
assert scalars["loss"]["train"]["x"] == list(range(2001)), scalars["loss"]["train"]["x"][:5]
assert scalars["loss"]["train"]["y"][:3] == [1.0, 0.5, 1.0 / 3] and scalars["loss"]["train"]["y"][2000] is None
assert scalars["loss"]["val"]["y"][1999] == 2.0 / 2000
loss_seen = [s for s in seen if s[0] == "loss"]
assert len(loss_seen) == 4001 and loss_seen[0] == ("loss", "train", 0, 1.0)

p = task.get_parameters()
assert p["General/float"] == 0.1 + 0.2 and type(p["General/int"]) is int and p["General/bool"] is False
assert p["General/none"] is None and p["General/list"] == [1, "a", 2.5] and p["General/dict"] == {"k": [1, 2]}
assert p["General/tuple"] == (1, 2) and p["General/str"] == "hello"
assert p["Args/lr"] == 0.5 and p["Args/epochs"] == 3 and p["Args/name"] == "x"
assert p["Model/depth"] == 18 and p["Model/dropout"] == 0.25 and p["Extra/seed"] == 42

arts = task.artifacts
assert arts["dict"].get() == {"a": 1, "b": [1, 2]} and arts["dict"].metadata == {"m": 1}
assert open(arts["file"].get_local_copy(), "rb").read() == b"\x00\x01" * 1000
folder = arts["folder"].get_local_copy()
assert open(os.path.join(folder, "sub", "b.txt")).read() == "B"
assert arts["frame"].get().equals(pd.DataFrame({"x": [1.5, 2.5], "y": [3, 4]}))
assert (arts["array"].get() == np.arange(12).reshape(3, 4)).all()
assert arts["image"].get().size == (4, 3)
assert arts["object"].get() == {1, 2, 3}
assert "shape=(3, 4)" in arts["array"].preview and '"a": 1' in arts["dict"].preview

same = Task.get_task(task_id=task.id)
assert same.name == "api tour" and same.project == "sdk/api"
assert Task.get_task(project_name="sdk/api", task_name="api tour").id == task.id
assert [t.id for t in Task.get_tasks(project_name="sdk/api", tags=["t1"])] == [task.id]
assert task.status == "in_progress"
print("ALL CHECKS PASSED")
'''


def test_script_reports_everything_and_reads_it_back(scripts) -> None:
    proc = scripts.run(TRAINING_SCRIPT, args=["--lr", "0.5"])
    assert "ALL CHECKS PASSED" in proc.stdout, proc.stdout + proc.stderr
    task_id = task_id_from(proc.stdout)
    task = scripts.get(f"/tasks/{task_id}")
    assert task["status"] == "completed"
    assert task["tags"] == ["t1", "t2"] and task["comment"] == "a comment"
    assert task["hyperparams"]["Args"]["lr"] == {"value": "0.5", "type": "float", "description": ""}
    assert task["hyperparams"]["General"]["float"]["value"] == repr(0.1 + 0.2)
    assert '"adam"' in task["configuration"]["train.json"]["value"]
    script = task["script"]
    assert script["entry_point"].endswith(".py") and script["argv"] == ["--lr", "0.5"]
    assert "requests==" in script["requirements"] and "numpy==" in script["requirements"]
    assert task["runtime"]["python"] and task["runtime"]["cpu_count"] >= 1 and task["runtime"]["hostname"]
    console = "".join(i["text"] for i in scripts.get(f"/tasks/{task_id}/console", tail=1000)["items"])
    assert "line to console\n" in console and "to stderr\n" in console and "some text" in console
    assert len(scripts.get(f"/tasks/{task_id}/plots")["items"]) == 2
    tables = scripts.get(f"/tasks/{task_id}/tables")["items"]
    by_variant = {t["variant"]: t for t in tables}
    assert by_variant["df"]["columns"] == ["a", "b"] and by_variant["df"]["rows"] == [[1, "x"], [2, "y"]]
    assert by_variant["rows"]["columns"] == ["c1", "c2"] and by_variant["rows"]["rows"] == [[1, 2], [3, 4]]
    images = scripts.get(f"/tasks/{task_id}/images")["items"]
    assert sorted(i["variant"] for i in images) == ["line", "ndarray", "path", "pil"]
    assert all(i["uri"] for i in images)
    arts = {a["key"]: a for a in scripts.get(f"/tasks/{task_id}/artifacts")["items"]}
    assert set(arts) == {"dict", "file", "folder", "frame", "array", "image", "object"}
    assert all(a["preview"] for a in arts.values())
    assert task["last_metrics"]["loss"]["val"]["last_iteration"] == 1999
    assert task["last_metrics"]["loss"]["val"]["last"] == 2.0 / 2000


def test_git_capture_strips_credentials(scripts, tmp_path) -> None:
    import subprocess

    repo = tmp_path / "repo"
    repo.mkdir()
    for cmd in (["init", "-q", "-b", "main"], ["remote", "add", "origin", "https://user:s3cret@example.com/r.git"]):
        subprocess.run(["git", *cmd], cwd=repo, check=True)
    (repo / "train.py").write_text("import labtrack\nt = labtrack.Task.init('sdk/git', 'g')\nprint('TASK', t.id)\n")
    env = {"GIT_AUTHOR_NAME": "a", "GIT_AUTHOR_EMAIL": "a@b", "GIT_COMMITTER_NAME": "a", "GIT_COMMITTER_EMAIL": "a@b"}
    subprocess.run(["git", "add", "."], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-qm", "c"], cwd=repo, check=True, env={**scripts.env(), **env})
    (repo / "train.py").write_text((repo / "train.py").read_text() + "# local change\n")
    proc = subprocess.run([__import__("sys").executable, "train.py"], cwd=repo, env=scripts.env(),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    script = scripts.get(f"/tasks/{task_id_from(proc.stdout)}")["script"]
    assert script["repository"] == "https://example.com/r.git"
    assert script["branch"] == "main" and len(script["commit"]) == 40
    assert "+# local change" in script["diff"] and script["entry_point"] == "train.py"
