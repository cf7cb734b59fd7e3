"""Request and response models: the OpenAPI contract. Request bodies reject unknown fields."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

TaskType = Literal[
    "training", "testing", "inference", "data_processing", "application", "monitor",
    "controller", "optimizer", "service", "qc", "custom",
]
TaskStatus = Literal["created", "queued", "in_progress", "stopped", "completed", "failed", "published"]
Id = Field(pattern=r"^[0-9a-f]{32}$")


class Strict(BaseModel):
    """Base of request bodies: unknown fields are a 422, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class ErrorInfo(BaseModel):
    code: str
    message: str
    details: dict[str, Any] = {}


class ErrorBody(BaseModel):
    """The one error shape."""

    error: ErrorInfo


class Health(BaseModel):
    status: str
    version: str


# -- keys ------------------------------------------------------------------------------------


class KeyCreate(Strict):
    user: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    role: Literal["admin", "member"] = Field(
        default="member", description="admin keys manage keys; member keys do everything else"
    )


class KeyOut(BaseModel):
    id: str
    user: str
    role: Literal["admin", "member"]
    description: str = ""
    created: str


class KeyCreated(KeyOut):
    key: str


class KeyList(BaseModel):
    items: list[KeyOut]
    next_cursor: str | None


# -- projects --------------------------------------------------------------------------------


class ProjectCreate(Strict):
    name: str = Field(min_length=1, max_length=1000)
    description: str = Field(default="", max_length=100_000)


class ProjectPatch(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=1000)
    description: str | None = Field(default=None, max_length=100_000)


class Project(BaseModel):
    id: str
    name: str
    description: str
    created: str
    task_count: int


class ProjectList(BaseModel):
    items: list[Project]
    next_cursor: str | None


# -- tasks -----------------------------------------------------------------------------------


class HyperParam(Strict):
    value: str
    type: str = "str"
    description: str = ""


class ConfigItem(Strict):
    value: str
    content_type: str = "text"


class Script(Strict):
    repository: str | None = None
    branch: str | None = None
    commit: str | None = None
    diff: str | None = None
    entry_point: str | None = None
    working_dir: str | None = None
    argv: list[str] | None = None
    requirements: str | None = None
    notebook: dict[str, Any] | str | None = None
    notebook_path: str | None = None


class Runtime(Strict):
    hostname: str | None = None
    python: str | None = None
    os: str | None = None
    machine: str | None = None
    cpu_count: int | None = Field(default=None, ge=0, le=2**31)
    memory_gb: float | None = None
    gpus: list[Any] | None = None
    extra: dict[str, Any] | None = None


Tag = Annotated[str, Field(min_length=1, max_length=200)]


class TaskCreate(Strict):
    name: str = Field(min_length=1, max_length=1000)
    project_id: str | None = Field(default=None, pattern=r"^[0-9a-f]{32}$")
    project_name: str | None = Field(default=None, min_length=1, max_length=1000)
    type: TaskType = "training"
    tags: list[Tag] = Field(default_factory=list, max_length=200)
    comment: str = Field(default="", max_length=100_000)
    parent_id: str | None = Field(default=None, pattern=r"^[0-9a-f]{32}$")
    hyperparams: dict[str, dict[str, HyperParam]] = Field(default_factory=dict)
    configuration: dict[str, ConfigItem] = Field(default_factory=dict)
    script: Script | None = None
    runtime: Runtime | None = None


class TaskPatch(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=1000)
    comment: str | None = Field(default=None, max_length=100_000)
    tags: list[Tag] | None = Field(default=None, max_length=200)
    hyperparams: dict[str, dict[str, HyperParam]] | None = None
    configuration: dict[str, ConfigItem | None] | None = None
    script: Script | None = None
    runtime: Runtime | None = None
    project_id: str | None = Field(default=None, pattern=r"^[0-9a-f]{32}$")
    archived: bool | None = None
    # A running process's note on how it goes (e.g. a notebook's "last cell failed"); status
    # actions set it too. "" clears it.
    status_message: str | None = Field(default=None, max_length=100_000)


class TaskClone(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=1000)


class StatusChange(Strict):
    reason: str = Field(default="", max_length=10_000)
    message: str = Field(default="", max_length=100_000)
    force: bool = False


class MetricSummary(BaseModel):
    last: float | None
    min: float | None
    max: float | None
    last_iteration: int | None
    count: int


class Task(BaseModel):
    id: str
    project_id: str
    project_name: str
    name: str
    type: str
    status: TaskStatus
    status_reason: str
    status_message: str
    stop_requested: bool
    archived: bool
    tags: list[str]
    comment: str
    parent_id: str | None
    run_number: int = Field(description="1 for the oldest task of this name in the project, by creation")
    run_count: int = Field(description="how many tasks of the project have this name")
    user: str
    created: str
    started: str | None
    last_update: str
    completed: str | None
    last_iteration: int | None
    last_metrics: dict[str, dict[str, MetricSummary]]
    hyperparams: dict[str, dict[str, dict[str, Any]]]
    configuration: dict[str, dict[str, Any]] | None = None
    script: dict[str, Any] | None = None
    runtime: dict[str, Any]


class TaskList(BaseModel):
    items: list[Task]
    next_cursor: str | None


class Heartbeat(BaseModel):
    status: TaskStatus
    stop_requested: bool


# -- events ----------------------------------------------------------------------------------


class EventBatchResult(BaseModel):
    batch_id: str | None
    accepted: int
    duplicate: bool
    stop_requested: bool


class SeriesSummary(BaseModel):
    metric: str
    variant: str
    count: int
    last: float | None
    min: float | None
    max: float | None
    last_iteration: int | None


class MetricList(BaseModel):
    items: list[SeriesSummary]


class Series(BaseModel):
    """A raw series page (`times`, `next_cursor`) or a downsampled one (`buckets`, `min`, `max`, `count`)."""

    task_id: str | None = None
    metric: str
    variant: str
    iterations: list[int]
    values: list[float | None]
    times: list[float] | None = None
    next_cursor: str | None = None
    buckets: int | None = None
    min: list[float | None] | None = None
    max: list[float | None] | None = None
    count: list[int] | None = None


class SeriesList(BaseModel):
    items: list[Series]


class ConsoleLine(BaseModel):
    seq: int
    time: float
    stream: str
    text: str


class ConsoleList(BaseModel):
    items: list[ConsoleLine]
    next_cursor: str | None


class MediaEvent(BaseModel):
    model_config = ConfigDict(extra="allow")
    seq: int
    metric: str
    variant: str
    iteration: int | None
    time: float


class MediaEventList(BaseModel):
    items: list[MediaEvent]
    next_cursor: str | None


# -- artifacts -------------------------------------------------------------------------------


class ArtifactRegister(Strict):
    key: str = Field(min_length=1, max_length=128)
    type: str = Field(default="", max_length=100)
    uri: str = Field(min_length=1, max_length=4000)
    filename: str = Field(default="", max_length=1000)
    size: int | None = Field(default=None, ge=0, le=2**62)
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    preview: str = Field(default="", max_length=100_000)
    metadata: dict[str, Any] = Field(default_factory=dict)


class ArtifactPatch(Strict):
    preview: str | None = Field(default=None, max_length=100_000)
    metadata: dict[str, Any] | None = None


class Artifact(BaseModel):
    key: str
    type: str
    uri: str
    filename: str
    size: int | None
    sha256: str | None
    preview: str
    metadata: dict[str, Any]
    created: str
    external: bool


class ArtifactList(BaseModel):
    items: list[Artifact]
    next_cursor: str | None


class MediaStored(BaseModel):
    uri: str
    size: int
    sha256: str
