"""Your own task types: the decorator a job is written with, and what a job may use.

A module of task types needs only this module and pydantic::

    from pydantic import BaseModel, Field
    from taskmanager.jobs import Context, task_type

    class Checksum(BaseModel):
        text: str = Field(max_length=100_000)
        rounds: int = Field(1, ge=1, le=10_000_000)

    @task_type("checksum", executor="process", retry_on=(ConnectionError,))
    def checksum(params: Checksum, ctx: Context) -> str:
        '''Iterated SHA-256 of the text.'''
        ...

``TASKMANAGER_TASKS`` names such modules; ``load_task_types`` imports them and collects
their types. Nothing here imports the web stack, so a worker process or a job's own
process can import it cheaply.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import re
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Annotated, Any, Final, Literal, get_args
from uuid import UUID

from pydantic import BaseModel, WithJsonSchema

__all__ = [
    "Context",
    "Executor",
    "JSONValue",
    "TaskTypeError",
    "TaskTypeSpec",
    "TaskTypes",
    "error_type_of",
    "load_task_types",
    "task_type",
]

# Validated as this union, documented as "any JSON value": openapi-python-client cannot
# parse a recursive schema, and drops every schema that refers to one.
type JSONValue = Annotated[
    str | int | float | bool | list[JSONValue] | dict[str, JSONValue] | None,
    WithJsonSchema({"description": "Any JSON value"}),
]

type Executor = Literal["async", "thread", "process"]
EXECUTORS: Final[tuple[str, ...]] = get_args(Executor.__value__)
_NAME: Final = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_SPEC_ATTRIBUTE: Final = "__task_type__"


class TaskTypeError(Exception):
    """A task type or a module of them is not usable; the message says which and why."""


_NONE: Final[Mapping[UUID, JSONValue]] = MappingProxyType({})


class Context:
    """What a running job knows and may do besides computing.

    The worker makes one per attempt. ``progress`` may be called as often as the job
    likes and from the job's own thread: reports are handed to the worker's event loop,
    and only the latest one waiting there is sent on.
    """

    __slots__ = (
        "_cancelled",
        "_latest",
        "_report",
        "_schedule",
        "_scheduled",
        "_sleep",
        "attempt",
        "dependencies",
        "logger",
        "task_id",
    )

    def __init__(  # noqa: PLR0913 - what a job sees, all by name
        self,
        task_id: UUID,
        attempt: int,
        *,
        report: Callable[[float], None],
        schedule: Callable[[Callable[[], None]], object],
        sleep: Callable[[float], Awaitable[None]],
        logger: logging.Logger,
        dependencies: Mapping[UUID, JSONValue] = _NONE,
    ) -> None:
        #: The task this attempt runs.
        self.task_id = task_id
        #: 1 for the first attempt, 2 for the first retry, ...
        self.attempt = attempt
        #: A logger named after the task type, for the job's own messages.
        self.logger = logger
        #: The results of the tasks this one depends on (``depends_on``), by task id.
        self.dependencies = dependencies
        self._report = report
        self._schedule = schedule
        self._sleep = sleep
        self._cancelled = False
        self._latest = 0.0
        self._scheduled = False

    @property
    def cancelled(self) -> bool:
        """Whether the task was cancelled or timed out: a job that can stop early should."""
        return self._cancelled

    def progress(self, fraction: float) -> None:
        """Report how far the job is, 0.0 to 1.0 (clamped). Never blocks."""
        value = float(fraction)
        if value != value:  # NaN says nothing about how far the job is  # noqa: PLR0124
            return
        self._latest = min(max(value, 0.0), 1.0)
        if not self._scheduled and not self._cancelled:
            self._scheduled = True
            self._schedule(self._flush)

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of simulated work, scaled by ``TASKMANAGER_TIME_SCALE`` (async jobs)."""
        await self._sleep(seconds)

    def cancel(self) -> None:
        """Mark the attempt as given up: ``cancelled`` turns true, progress is no longer sent."""
        self._cancelled = True

    def _flush(self) -> None:
        self._scheduled = False
        if not self._cancelled:
            self._report(self._latest)


@dataclass(frozen=True, slots=True)
class TaskTypeSpec:
    """One task type, as ``@task_type`` describes it."""

    #: The ``task_type`` clients send.
    name: str
    #: The job: ``function(params, ctx)``, a coroutine function for the async executor.
    function: Callable[..., Any]
    #: The first parameter's model: what ``parameters`` are validated and documented as.
    parameters: type[BaseModel]
    executor: Executor
    #: Exception classes after which an attempt is retried (when ``max_retries`` allows).
    retry_on: tuple[type[BaseException], ...]
    #: The function's docstring: the type's description in the documentation.
    summary: str
    #: Parameters shown in the documentation and tried from Swagger UI (None: none).
    example: Mapping[str, Any] | None = None
    #: The module the function is defined in.
    module: str = field(default="")

    def retries(self, error: BaseException) -> bool:
        """Whether the job declared ``error`` worth another attempt."""
        return isinstance(error, self.retry_on)


def task_type[F: Callable[..., Any]](
    name: str,
    *,
    executor: Executor | None = None,
    retry_on: Sequence[type[BaseException]] = (),
    example: Mapping[str, Any] | None = None,
) -> Callable[[F], F]:
    """Declare ``function(params: Model, ctx: Context)`` as the task type ``name``.

    ``executor`` defaults to ``"async"`` for an ``async def``, ``"thread"`` for a ``def``.
    The function is returned unchanged, with its description attached; nothing is
    registered until a module is named in ``TASKMANAGER_TASKS``.
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise TaskTypeError(
            f"task type name {name!r}: 1 to 64 of a-z, 0-9 and _, starting with a letter"
        )
    retry = tuple(retry_on)
    if not all(isinstance(cls, type) and issubclass(cls, BaseException) for cls in retry):
        raise TaskTypeError(f"task type {name!r}: retry_on must hold exception classes")

    def decorate(function: F) -> F:
        is_async = inspect.iscoroutinefunction(function)
        chosen = executor or ("async" if is_async else "thread")
        if chosen not in EXECUTORS:
            raise TaskTypeError(
                f"task type {name!r}: unknown executor {chosen!r}, expected one of "
                + ", ".join(EXECUTORS)
            )
        if (chosen == "async") != is_async:
            raise TaskTypeError(
                f"task type {name!r}: the {chosen} executor needs "
                + ("an async def" if chosen == "async" else "a plain def, not an async def")
            )
        model = _parameters_model(name, function)
        spec = TaskTypeSpec(
            name=name,
            function=function,
            parameters=model,
            executor=chosen,
            retry_on=retry,
            summary=inspect.cleandoc(function.__doc__ or "") or name.replace("_", " "),
            example=MappingProxyType(dict(example)) if example is not None else _defaults(model),
            module=function.__module__,
        )
        setattr(function, _SPEC_ATTRIBUTE, spec)
        return function

    return decorate


def _parameters_model(name: str, function: Callable[..., Any]) -> type[BaseModel]:
    """The model the first parameter is annotated with."""
    parameters = list(inspect.signature(function).parameters.values())
    if len(parameters) != 2:  # noqa: PLR2004 - params and ctx
        raise TaskTypeError(f"task type {name!r}: the function must take (params, ctx)")
    annotation = parameters[0].annotation
    if isinstance(annotation, str):  # postponed annotations: read in the function's module
        try:
            # The module's own annotation, read as Python would at run time.
            annotation = eval(annotation, function.__globals__)  # noqa: S307
        except Exception as error:  # noqa: BLE001 - whatever the annotation raises, one line
            raise TaskTypeError(
                f"task type {name!r}: cannot read the annotation {parameters[0].annotation!r}"
                f" of its first parameter: {error}"
            ) from None
    if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
        raise TaskTypeError(
            f"task type {name!r}: the first parameter must be annotated with a pydantic "
            f"model (a BaseModel subclass), not {annotation!r}"
        )
    return annotation


def _defaults(model: type[BaseModel]) -> Mapping[str, Any] | None:
    """The model's defaults as an example, when every field has one."""
    if any(info.is_required() for info in model.model_fields.values()):
        return None
    return MappingProxyType(model().model_dump(mode="json"))


def spec_of(function: object) -> TaskTypeSpec | None:
    """The task type a function was declared as, if it was."""
    spec = getattr(function, _SPEC_ATTRIBUTE, None)
    return spec if isinstance(spec, TaskTypeSpec) else None


class TaskTypes(Mapping[str, TaskTypeSpec]):
    """Every task type of the named modules, by name, in module and definition order."""

    __slots__ = ("_types", "modules")

    def __init__(self, types: Sequence[TaskTypeSpec], modules: Sequence[str] = ()) -> None:
        self._types: Mapping[str, TaskTypeSpec] = MappingProxyType(
            {spec.name: spec for spec in types}
        )
        #: The modules they were read from.
        self.modules = tuple(modules)

    def __getitem__(self, name: str) -> TaskTypeSpec:
        return self._types[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._types)

    def __len__(self) -> int:
        return len(self._types)

    def __repr__(self) -> str:
        return f"TaskTypes({', '.join(self._types)})"


def load_task_types(module_names: Sequence[str]) -> TaskTypes:
    """Import the modules and collect their task types.

    Raises ``TaskTypeError`` with one line naming the module when a module cannot be
    imported, declares a type badly, declares none, or reuses a name.
    """
    specs: list[TaskTypeSpec] = []
    seen: dict[str, str] = {}
    if not module_names:
        raise TaskTypeError("no module named: give at least one, such as taskmanager.demo")
    for module_name in module_names:
        try:
            module = importlib.import_module(module_name)
        except TaskTypeError as error:
            raise TaskTypeError(f"module {module_name!r}: {error}") from None
        except Exception as error:  # noqa: BLE001 - whatever the user's import raised, one line
            reason = f"{type(error).__name__}: {error}".splitlines()[0]
            raise TaskTypeError(f"module {module_name!r} cannot be imported: {reason}") from None
        found = [
            spec
            for value in vars(module).values()
            if (spec := spec_of(value)) is not None and spec.module == module.__name__
        ]
        if not found:
            raise TaskTypeError(f"module {module_name!r} declares no @task_type function")
        for spec in found:
            if spec.name in seen:
                raise TaskTypeError(
                    f"module {module_name!r}: task type {spec.name!r} is already declared "
                    f"in module {seen[spec.name]!r}"
                )
            seen[spec.name] = module_name
            specs.append(spec)
    return TaskTypes(specs, module_names)


_WORD_BOUNDARY: Final = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def error_type_of(error: BaseException) -> str:
    """The ``error.type`` an exception becomes: its class name in snake_case."""
    return _WORD_BOUNDARY.sub("_", type(error).__name__).lower()
