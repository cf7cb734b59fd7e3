"""Request and response models of `/models` and `/tasks/{id}/models` (the OpenAPI contract)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from labtrack.server.api.schemas import PROJECT_NAME, Int64, Strict, Tag, Text

ModelRole = Literal["input", "output"]
ModelSort = Literal["created", "-created", "last_update", "-last_update", "name", "-name"]
Labels = dict[Annotated[str, Field(min_length=1, max_length=200)], Int64]


class MetadataItem(Strict):
    """One metadata entry (ClearML's `set_metadata(key, value, type)`): the value is kept as text."""

    value: str = Field(max_length=100_000)
    type: str = Field(default="str", max_length=100, description="what the value holds: str, int, float, …")


MetadataKey = Annotated[str, Field(min_length=1, max_length=200)]


class ModelCreate(Strict):
    # A model needs a project: named, or its task's. Said in the schema so clients know it up front.
    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={
        "anyOf": [{"required": [key], "properties": {key: {"type": "string"}}} for key in ("project", "task_id")]})

    name: Text = Field(min_length=1, max_length=1000)
    project: str | None = Field(default=None, min_length=1, max_length=1000, json_schema_extra=PROJECT_NAME,
                                description="project name (created if new); left out: the task's project")
    task_id: str | None = Field(default=None, pattern=r"^[0-9a-f]{32}$",
                                description="the task that makes the model; it is recorded as the task's output")
    framework: Text = Field(default="", max_length=100, description="e.g. PyTorch, TensorFlow, scikit-learn, numpy")
    tags: list[Tag] = Field(default_factory=list, max_length=200)
    comment: Text = Field(default="", max_length=100_000)
    labels: Labels = Field(default_factory=dict, max_length=10_000, description="label name → integer id")
    metadata: dict[MetadataKey, MetadataItem] = Field(default_factory=dict, max_length=1000)


class ModelPatch(Strict):
    """Changes; on a published model only `tags` and `comment` may change (409 model_published otherwise)."""

    name: Text | None = Field(default=None, min_length=1, max_length=1000)
    framework: Text | None = Field(default=None, max_length=100)
    comment: Text | None = Field(default=None, max_length=100_000)
    tags: list[Tag] | None = Field(default=None, max_length=200)
    labels: Labels | None = Field(default=None, max_length=10_000, description="replaces the labels")
    metadata: dict[MetadataKey, MetadataItem | None] | None = Field(
        default=None, max_length=1000, description="merged by key; a null value removes the key")


class TaskRef(BaseModel):
    id: str
    name: str | None


class ModelUser(BaseModel):
    task_id: str
    name: str
    status: str
    link_name: str
    recorded: str


class Model(BaseModel):
    id: str
    name: str
    project: str
    project_id: str
    framework: str
    comment: str
    task: TaskRef | None = Field(description="the task that made the model (null when none, or it was deleted)")
    user: str
    tags: list[str]
    labels: dict[str, int]
    metadata: dict[str, MetadataItem]
    uri: str = Field(description="where the weights are stored ('' until update_weights)")
    filename: str
    size: int | None
    sha256: str | None
    published: bool
    created: str
    last_update: str
    published_at: str | None


class ModelDetail(Model):
    used_by: list[ModelUser] = Field(description="tasks that recorded the model as input, newest first (at most 100)")
    used_by_count: int


class ModelList(BaseModel):
    items: list[Model]
    next_cursor: str | None


class TaskModelLink(Strict):
    model_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    role: ModelRole = "input"
    name: Text = Field(default="", max_length=200, description="the name the task knows it by (default: the model's)")


class LinkedModel(Model):
    link_name: str
    recorded: str


class TaskModels(BaseModel):
    input: list[LinkedModel]
    output: list[LinkedModel]
