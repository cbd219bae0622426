"""A task type with an executor that does not exist."""

from pydantic import BaseModel

from taskmanager.jobs import Context, task_type


class Nothing(BaseModel):
    """No parameters."""


@task_type("gpu", executor="gpu")  # type: ignore[arg-type]
def gpu(params: Nothing, ctx: Context) -> None:
    """Runs on an executor that does not exist."""
