"""Request and response models of `/queues` and `/workers` (the contract in docs/api.md)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from labtrack.server.api.schemas import CpuCount, Priority, Size, Strict, Task, Text
from labtrack.server.services.queues import QUEUE_NAME_PATTERN

ID_PATTERN = r"^[0-9a-f]{32}$"
# A queue is named by its id or its name; an id is also a valid name, so one pattern states both.
QueueRef = Annotated[str, Field(min_length=1, max_length=64, pattern=QUEUE_NAME_PATTERN)]
# An index in pop order (the same integer rules as a CPU count: 0..2**31, 3.0 is 3).
Position = CpuCount


class QueueCreate(Strict):
    name: str = Field(min_length=1, max_length=64, json_schema_extra={"pattern": QUEUE_NAME_PATTERN})
    description: Text = Field(default="", max_length=10_000)


class Queue(BaseModel):
    id: str
    name: str
    description: str
    created: str
    pending: int = Field(description="tasks waiting in it")
    workers: list[str] = Field(description="ids of the active workers that pull it")


class QueueList(BaseModel):
    items: list[Queue]
    next_cursor: str | None = None


class EntryTask(BaseModel):
    id: str
    name: str
    project: str
    status: str
    user: str


class Entry(BaseModel):
    task_id: str
    queue: str = Field(description="the queue's id")
    priority: int
    enqueued: str
    task: EntryTask


class EntryList(BaseModel):
    items: list[Entry]
    next_cursor: str | None = None


class EntryCreate(Strict):
    task_id: str = Field(pattern=ID_PATTERN)
    priority: Priority = Field(default=0, description="higher pops first (-100..100)")


class EntryPatch(Strict):
    priority: Priority | None = Field(default=None, description="higher pops first (-100..100)")
    position: Literal["top", "bottom"] | Position | None = Field(
        default=None, description="top, bottom, or a 0-based index in pop order (past the end: bottom)")


class PopRequest(Strict):
    queues: list[QueueRef] = Field(min_length=1, max_length=50, description="ids or names, in priority order")
    worker: str = Field(pattern=ID_PATTERN, description="the popping worker's id")
    wait: float = Field(default=0, ge=0, le=60, description="seconds to wait for a task (long-poll)")


class PopResult(BaseModel):
    task: Task
    queue: Queue


class Open(BaseModel):
    """Reported by agents: the documented fields are typed, others are kept as sent."""

    model_config = ConfigDict(extra="allow", strict=True)


class GpuInfo(Open):
    index: CpuCount | None = None
    name: str | None = Field(default=None, max_length=1000)
    uuid: str | None = Field(default=None, max_length=200)
    memory_total: Size | None = Field(default=None, description="bytes")


class Resources(Open):
    hostname: str | None = Field(default=None, max_length=1000)
    cpu_count: CpuCount | None = None
    memory_total: Size | None = Field(default=None, description="bytes")
    gpus: list[GpuInfo] = Field(default_factory=list, max_length=256)


class GpuUsage(Open):
    index: CpuCount | None = None
    utilization: float | None = Field(default=None, description="percent")
    memory_used: Size | None = Field(default=None, description="bytes")
    temperature: float | None = Field(default=None, description="°C")


class Usage(Open):
    cpu_percent: float | None = None
    memory_used: Size | None = Field(default=None, description="bytes")
    gpus: list[GpuUsage] = Field(default_factory=list, max_length=256)


class WorkerRegister(Strict):
    name: str = Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")
    queues: list[QueueRef] = Field(default_factory=lambda: ["default"], min_length=1, max_length=50,
                                   description="ids or names, in priority order")
    resources: Resources = Field(default_factory=Resources)
    replace: bool = Field(default=False, description="take over the name from an active worker (it becomes gone)")


class WorkerHeartbeat(Strict):
    task_id: str | None = Field(default=None, pattern=ID_PATTERN, description="the task it runs now, if any")
    usage: Usage | None = None


class HeartbeatAnswer(BaseModel):
    stop_requested: bool = Field(description="the current task should stop: end its process")


class CurrentTask(BaseModel):
    id: str
    name: str
    status: str


class Worker(BaseModel):
    id: str
    name: str
    queues: list[str]
    status: Literal["active", "gone"]
    registered: str
    last_heartbeat: str
    current_task: CurrentTask | None
    resources: dict[str, Any]
    usage: dict[str, Any] | None


class WorkerList(BaseModel):
    items: list[Worker]
    next_cursor: str | None = None
