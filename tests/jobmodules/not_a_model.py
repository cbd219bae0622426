"""A task type whose first parameter is not a pydantic model."""

from taskmanager.jobs import Context, task_type


@task_type("plain")
async def plain(params: dict, ctx: Context) -> None:
    """Takes a dict: not allowed."""
