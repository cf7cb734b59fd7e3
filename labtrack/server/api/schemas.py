"""Request and response models: the OpenAPI contract. Request bodies reject unknown fields."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.json_schema import JsonDict

from labtrack.server.services.projects import PROJECT_NAME_PATTERN
from labtrack.server.services.queues import QUEUE_NAME_PATTERN

TaskType = Literal[
    "training", "testing", "inference", "data_processing", "application", "monitor",
    "controller", "optimizer", "service", "qc", "custom",
]
TaskStatus = Literal["created", "queued", "in_progress", "stopped", "completed", "failed", "published"]
Id = Field(pattern=r"^[0-9a-f]{32}$")
# Rules the services check with their own, clearer messages: the document states them as patterns
# (json_schema_extra, so the service's message and not pydantic's is what a client reads).
PROJECT_NAME: JsonDict = {"pattern": PROJECT_NAME_PATTERN}
# What str.strip removes, spelled out (regex engines and generators disagree on what \s holds).
WS = r"[\x09-\x0d\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"


def csv_pattern(choices: tuple[str, ...], limit: int) -> str:
    """A comma list of up to `limit` items, each one of `choices` or blank (blanks are skipped)."""
    item = rf"{WS}*(?:{'|'.join(choices)})?{WS}*"
    return rf"^{item}(?:,{item}){{0,{limit - 1}}}$"

# PostgreSQL's text can't hold U+0000 and SQLite's can: so that both store the same, text kept in
# a column of its own (names, descriptions, comments, tags, messages, filters, ...) refuses it
# everywhere. JSON-valued fields (hyperparams, configuration, script, metadata, ...) may hold it:
# their JSON text stores it escaped. `Text` says so in the document as "no match of [\x00]" rather
# than a whole-string pattern, which a fuzzer would draw long texts from a regex for; NO_NUL is that
# pattern, for a short query parameter.
NUL_FREE: JsonDict = {"not": {"pattern": r"[\x00]"}}
NO_NUL = r"^[^\x00]*$"


def _storable_text(text: str) -> str:
    # Text both databases store alike: UTF-8-encodable (pydantic lets a lone surrogate through an
    # annotated str, and a PATCH comment reached the database with one) and free of NUL.
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("holds a lone UTF-16 surrogate (such as \\udce9), which is not valid Unicode text: "
                             "send UTF-8 text, replacing or dropping characters that can't be encoded") from None
    if "\x00" in text:
        raise ValueError("holds a NUL character (U+0000), which PostgreSQL can't store: remove or replace it")
    return text


Text = Annotated[str, AfterValidator(_storable_text), Field(json_schema_extra=NUL_FREE)]

ARTIFACT_KEY: JsonDict = {"pattern": r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$"}
MEDIA_NAME: JsonDict = {"pattern": r"^[0-9a-f]{64}(\.[a-z0-9]{1,10})?$"}


def _integral(value: Any) -> Any:
    # JSON Schema's integer is any number without a fraction (5.0 included), never a boolean.
    return int(value) if isinstance(value, float) and value.is_integer() else value


# Integer fields of request bodies (under Strict's strict mode, which refuses true and 1.5). The
# bounds sit inside, before the validator: Field(ge=...) on the outside would reach the document as
# "ge"/"le", which JSON Schema does not know.
Int64 = Annotated[int, Field(ge=-(2**63), le=2**63 - 1), BeforeValidator(_integral)]
# 2**53 - 1 bytes (8 PiB): a bound every JSON reader holds exactly (2**62 read as a float admits 2**62 + 95).
Size = Annotated[int, Field(ge=0, le=2**53 - 1), BeforeValidator(_integral)]
CpuCount = Annotated[int, Field(ge=0, le=2**31), BeforeValidator(_integral)]
# A queue entry's priority: higher pops first.
Priority = Annotated[int, Field(ge=-100, le=100), BeforeValidator(_integral)]


class Strict(BaseModel):
    """Base of request bodies: unknown fields are a 422, not silently dropped."""

    # strict: 0 is not false and 1.0 is not an integer (the document says boolean and integer).
    model_config = ConfigDict(extra="forbid", strict=True)


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
    user: Text = Field(min_length=1, max_length=200)
    description: Text = Field(default="", max_length=2000)
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
    name: str = Field(min_length=1, max_length=1000, json_schema_extra=PROJECT_NAME)
    description: Text = Field(default="", max_length=100_000)


class ProjectPatch(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=1000, json_schema_extra=PROJECT_NAME)
    description: Text | None = Field(default=None, max_length=100_000)


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
    cpu_count: CpuCount | None = None
    memory_gb: float | None = None
    gpus: list[Any] | None = None
    extra: dict[str, Any] | None = None


Tag = Annotated[Text, Field(min_length=1, max_length=200)]


class TaskCreate(Strict):
    # A task needs a project, by id or by name: said in the schema so clients know it up front.
    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={
        "anyOf": [{"required": [key], "properties": {key: {"type": "string"}}} for key in ("project_id", "project_name")]})

    name: Text = Field(min_length=1, max_length=1000)
    project_id: str | None = Field(default=None, pattern=r"^[0-9a-f]{32}$")
    project_name: str | None = Field(default=None, min_length=1, max_length=1000, json_schema_extra=PROJECT_NAME)
    type: TaskType = "training"
    tags: list[Tag] = Field(default_factory=list, max_length=200)
    comment: Text = Field(default="", max_length=100_000)
    parent_id: str | None = Field(default=None, pattern=r"^[0-9a-f]{32}$")
    hyperparams: dict[str, dict[str, HyperParam]] = Field(default_factory=dict)
    configuration: dict[str, ConfigItem] = Field(default_factory=dict)
    script: Script | None = None
    runtime: Runtime | None = None


class TaskPatch(Strict):
    name: Text | None = Field(default=None, min_length=1, max_length=1000)
    comment: Text | None = Field(default=None, max_length=100_000)
    tags: list[Tag] | None = Field(default=None, max_length=200)
    hyperparams: dict[str, dict[str, HyperParam]] | None = None
    configuration: dict[str, ConfigItem | None] | None = None
    script: Script | None = None
    runtime: Runtime | None = None
    project_id: str | None = Field(default=None, pattern=r"^[0-9a-f]{32}$")
    archived: bool | None = None
    # A running process's note on how it goes (e.g. a notebook's "last cell failed"); status
    # actions set it too. "" clears it.
    status_message: Text | None = Field(default=None, max_length=100_000)


class TaskClone(Strict):
    name: Text | None = Field(default=None, min_length=1, max_length=1000)


class StatusChange(Strict):
    reason: Text = Field(default="", max_length=10_000)
    message: Text = Field(default="", max_length=100_000)
    force: bool = False


class EnqueueChange(StatusChange):
    queue: str | None = Field(default=None, min_length=1, max_length=64, pattern=QUEUE_NAME_PATTERN,
                              description="queue id or name; default: `default`")
    priority: Priority = Field(default=0, description="higher pops first (-100..100)")


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
    queue: str | None = Field(default=None, description="id of the queue the task waits in (while queued)")
    worker: str | None = Field(default=None, description="id of the worker that runs or ran it")


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
    key: str = Field(min_length=1, max_length=128, json_schema_extra=ARTIFACT_KEY)
    type: Text = Field(default="", max_length=100)
    uri: Text = Field(min_length=1, max_length=4000)
    filename: Text = Field(default="", max_length=1000)
    size: Size | None = None
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    preview: Text = Field(default="", max_length=100_000)
    metadata: dict[str, Any] = Field(default_factory=dict)


class ArtifactPatch(Strict):
    preview: Text | None = Field(default=None, max_length=100_000)
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
