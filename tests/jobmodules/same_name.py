"""A task type named like a demo type."""

from pydantic import BaseModel

from taskmanager.jobs import Context, task_type


class Numbers(BaseModel):
    """Numbers."""

    numbers: list[int]


@task_type("compute_sum")
async def my_sum(params: Numbers, ctx: Context) -> int:
    """Another compute_sum."""
    return sum(params.numbers)
