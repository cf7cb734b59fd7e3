"""Request and response models of `/datasets`, `/blobs` and task inputs (the OpenAPI contract)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field
from pydantic.json_schema import JsonDict

from labtrack.server.api.schemas import PROJECT_NAME, Size, Strict, Text

Sha256 = Field(pattern=r"^[0-9a-f]{64}$", description="lowercase hex sha256 of the file's bytes")
DatasetState = Literal["draft", "final"]


class DatasetCreate(Strict):
    project: str = Field(min_length=1, max_length=1000, json_schema_extra=PROJECT_NAME, description="project name; created if new")
    name: str = Field(min_length=1, max_length=1000, json_schema_extra=PROJECT_NAME, description="the project-name rules")
    version: str | None = Field(default=None, min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._+-]*$",
                                description="left out: the next after the highest dotted-number version (1.0.0 first)")
    description: Text = Field(default="", max_length=100_000)
    parents: list[Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]] = Field(default_factory=list, max_length=100,
                               json_schema_extra={"uniqueItems": True},
                               description="ids of final versions whose files the draft starts with")


class DatasetPatch(Strict):
    description: Text | None = Field(default=None, max_length=100_000)


class Dataset(BaseModel):
    id: str
    project: str
    project_id: str
    name: str
    version: str
    state: DatasetState
    description: str
    user: str
    file_count: int
    total_size: int
    created: str
    finalized: str | None
    parents: list[str]


class DatasetList(BaseModel):
    items: list[Dataset]
    next_cursor: str | None


# check_path's rule: '/'-separated parts, none empty, '.' or '..', no backslash or control character.
_PART = r"(?!\.\.?(?:/|$))[^/\\\x00-\x1f\x7f]+"
FILE_PATH: JsonDict = {"pattern": rf"^{_PART}(?:/{_PART})*$"}
FilePath = Annotated[str, Field(min_length=1, max_length=1024, json_schema_extra=FILE_PATH,
                                description="relative, '/'-separated; at most 1024 bytes in UTF-8")]


class FileEntry(Strict):
    path: FilePath
    size: Size
    sha256: str = Sha256


class FileChanges(Strict):
    add: list[FileEntry] = Field(default_factory=list, max_length=10_000)
    remove: list[FilePath] = Field(default_factory=list, max_length=10_000)


class FileChangeResult(BaseModel):
    missing: list[str] = Field(description="hashes among `add` whose bytes the server does not have: PUT /blobs/{sha256}")
    removed: int
    file_count: int
    total_size: int


class FileList(BaseModel):
    items: list[FileEntry]
    next_cursor: str | None


class MissingBlob(BaseModel):
    sha256: str
    size: int


class MissingList(BaseModel):
    items: list[MissingBlob]
    next_cursor: str | None


class BlobStored(BaseModel):
    sha256: str
    size: int
    created: bool = Field(description="false when the server already had these bytes")


class BlobBatchResult(BaseModel):
    stored: list[str]
    had: list[str] = Field(description="already stored before")
    mismatched: list[str] = Field(description="the bytes did not hash to the name (or size): not stored")
    unknown: list[str] = Field(description="no manifest names the hash: not stored")
    too_large: list[str]


class BlobDownload(Strict):
    hashes: list[Annotated[str, Sha256]] = Field(min_length=1, max_length=10_000, description="sha256 of stored blobs, sent in this order")


class TaskInputCreate(Strict):
    alias: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    dataset_id: str = Field(pattern=r"^[0-9a-f]{32}$")


class TaskInput(Dataset):
    alias: str


class TaskInputList(BaseModel):
    items: list[TaskInput]


class DatasetUser(BaseModel):
    task_id: str
    name: str
    alias: str
    recorded: str


class DatasetUserList(BaseModel):
    items: list[DatasetUser]


class Lineage(BaseModel):
    items: list[Dataset] = Field(description="this version first, then its ancestors, nearest first")
