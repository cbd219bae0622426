"""Task types whose parameters a record could lose or change: a job that changes its own
instance, and a model that names a field by alias and adds a computed field."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, computed_field

from taskmanager.jobs import Context, task_type


class Tally(BaseModel):
    """Numbers the job appends to as it counts (a model that is not frozen)."""

    marks: list[int] = Field(max_length=100)


@task_type("tally")
async def tally(params: Tally, ctx: Context) -> list[int]:
    """Appends to its own parameters, as a careless job may."""
    params.marks.append(len(params.marks))
    return params.marks


class Renamed(BaseModel):
    """A field clients write in camel case, and one computed from it."""

    model_config = ConfigDict(extra="forbid")

    first_name: str = Field(alias="firstName", max_length=50)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def greeting(self) -> str:
        """Derived, never sent by a client."""
        return f"hello {self.first_name}"


@task_type("greet")
async def greet(params: Renamed, ctx: Context) -> str:
    """The computed greeting."""
    return params.greeting
