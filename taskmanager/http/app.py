"""The FastAPI application and the lifespan that owns the actor system."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match, Mount
from starlette.types import ASGIApp, Scope

from taskmanager.actors.clock import Clock
from taskmanager.actors.system import ActorSystem
from taskmanager.config import Settings, load_settings
from taskmanager.http import operations
from taskmanager.http.admission import Admission, is_protected
from taskmanager.http.cors import CORSMiddleware
from taskmanager.http.examples import submissions
from taskmanager.http.fastpath import FastPath
from taskmanager.http.head import HeadAsGet
from taskmanager.http.operations import BUSY_ERRORS, JSON_MEDIA_TYPE
from taskmanager.http.routes import events, health, queue, schedules, stats, tasks
from taskmanager.http.schemas import TaskRequests

logger = logging.getLogger(__name__)

# Where a built monitor is looked for: beside the package (a checkout), then the cwd.
SWAGGER_UI = "swagger-ui"
WEB_DIRS = (Path(__file__).parents[2] / "webapp" / "dist", Path("webapp") / "dist")

ERROR_BODY = "#/components/schemas/ErrorBody"
HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE")

DESCRIPTION = """
Submit long-running tasks, follow them (poll, long-poll), list and cancel them.
Five workers run them; every request to `/tasks` counts against the client's rate limit.
Schedules submit a task at every due time; an operator may pause the queue.
"""


class TaskManagerAPI(FastAPI):
    """FastAPI, behind CORS, admission and the fast path for the hottest requests.

    Every request passes CORS, then admission (who the caller is, the rate limit); only
    then does the fast path or FastAPI's own stack answer it.
    """

    fast_path = True

    def build_middleware_stack(self) -> ASGIApp:
        """CORS, then admission, then HEAD as GET, then the fast path, then FastAPI's stack."""
        system: ActorSystem = self.state.system
        settings = system.settings
        app = super().build_middleware_stack()
        if self.fast_path:
            app = FastPath(app, system=system, requests=self.state.requests)
        app = HeadAsGet(app)
        app = Admission(
            app,
            limiter=system.limiter,
            trusted_proxies=settings.trusted_proxies,
            keys=settings.api_keys_file,
            store_counts_submissions=system.store_counts_submissions,
        )
        return CORSMiddleware(
            app,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "Last-Event-ID"],
            expose_headers=["Link", "Location", "Retry-After", "RateLimit", "RateLimit-Policy"],
        )


def create_app(
    settings: Settings | None = None, clock: Clock | None = None, *, fast_path: bool = True
) -> FastAPI:
    """Build the app; its lifespan starts the actors and stops them on shutdown.

    ``fast_path=False`` sends every request through FastAPI's routes, so tests can check
    that both ways of answering agree.
    """
    settings = settings or load_settings()
    system = ActorSystem(settings, clock)
    requests = TaskRequests(settings.tasks)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await system.start()
        try:
            yield
        finally:
            await system.shutdown()

    monitor = _monitor_dir(settings.web_dir)
    # Swagger UI's files come with the built monitor; without them, from FastAPI's CDN.
    local_swagger = monitor is not None and (monitor / SWAGGER_UI / "swagger-ui.css").is_file()
    app = TaskManagerAPI(
        docs_url=None if local_swagger else "/docs",
        title="Task Manager",
        version="0.1.0",
        summary="An async task service",
        description=DESCRIPTION,
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
    )
    app.fast_path = fast_path
    app.state.system = system
    app.state.requests = requests
    app.state.heartbeat = events.HEARTBEAT_SECONDS
    app.include_router(tasks.router)
    app.include_router(schedules.router)
    app.include_router(events.router)
    app.include_router(stats.router)
    app.include_router(queue.router)
    app.include_router(health.router)
    if local_swagger:
        _serve_local_docs(app)
    _serve_monitor(app, monitor)
    app.add_exception_handler(RequestValidationError, _bad_request)
    app.add_exception_handler(405, _method_not_allowed)
    for error in BUSY_ERRORS:
        app.add_exception_handler(error, _busy)
    app.add_exception_handler(Exception, _internal_error)
    app.openapi = lambda: _openapi(  # type: ignore[method-assign]
        app, requests, keys=settings.api_keys_file is not None
    )
    return app


def _operation_id(route: APIRoute) -> str:
    """Name each operation after its endpoint (``submit_task``), as generated clients call it.

    FastAPI's default adds the path and method (``submit_task_tasks_post``).
    """
    return route.name


def _monitor_dir(web_dir: Path | None) -> Path | None:
    """The built monitor's directory, if there is one."""
    directory = web_dir or next((path for path in WEB_DIRS if path.is_dir()), None)
    if directory is not None and (directory / "index.html").is_file():
        return directory
    return None


def _serve_local_docs(app: FastAPI) -> None:
    """Swagger UI from the monitor's copy of its files, so /docs works offline."""

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"/{SWAGGER_UI}/swagger-ui-bundle.js",
            swagger_css_url=f"/{SWAGGER_UI}/swagger-ui.css",
            swagger_favicon_url=f"/{SWAGGER_UI}/favicon-32x32.png",
        )


class MonitorFiles(StaticFiles):
    """The monitor's files at ``/``; an API path asked with a method it lacks is 405.

    The mount matches every path, so ``GET /queue/pause`` (an API path only for POST)
    would otherwise be looked up as a file, and answered 404.
    """

    def __init__(self, *, directory: Path, api: list[BaseRoute]) -> None:
        super().__init__(directory=directory, html=True)
        self._api = api

    async def get_response(self, path: str, scope: Scope) -> Response:
        """The file, or 405 (with the methods in ``Allow``) for an API path."""
        if any(route.matches(scope)[0] is Match.PARTIAL for route in self._api):
            raise StarletteHTTPException(405)
        return await super().get_response(path, scope)


def _serve_monitor(app: FastAPI, directory: Path | None) -> None:
    """Serve the built web monitor at ``/``, or send visitors to the docs when it is not built."""
    if directory is not None:
        api = [route for route in app.routes if not isinstance(route, Mount)]
        app.mount("/", MonitorFiles(directory=directory, api=api), name="monitor")
        return

    @app.get("/", include_in_schema=False)
    async def no_monitor() -> RedirectResponse:
        return RedirectResponse("/docs")


async def _bad_request(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)  # noqa: S101 - registered for this class only
    details = []
    for error in exc.errors()[:5]:
        field = ".".join(str(part) for part in error["loc"][1:]) or str(error["loc"][0])
        details.append(f"{field}: {error['msg']}")
    return JSONResponse({"detail": "; ".join(details)}, status_code=400)


async def _method_not_allowed(request: Request, exc: Exception) -> JSONResponse:
    """405 whose ``Allow`` names every method of the path.

    Starlette names only the methods of the first route that matched the path (or the
    monitor's ``GET, HEAD``), so ``OPTIONS /tasks`` would deny that ``POST`` exists.
    """
    routes = [route for route in request.app.routes if not isinstance(route, Mount)]
    allowed = {
        method
        for method in HTTP_METHODS
        for route in routes
        if route.matches({"type": "http", "path": request.scope["path"], "method": method})[0]
        is Match.FULL
    }
    headers = dict(getattr(exc, "headers", None) or {})
    if allowed:
        headers["Allow"] = ", ".join(sorted(allowed))
    return JSONResponse({"detail": "Method Not Allowed"}, status_code=405, headers=headers)


async def _busy(_: Request, exc: Exception) -> Response:
    logger.warning("answering 503: %r", exc)
    return operations.BUSY.response()


async def _internal_error(_: Request, exc: Exception) -> Response:
    logger.error("unhandled error", exc_info=exc)
    return operations.INTERNAL_ERROR.response()


def _openapi(app: FastAPI, requests: TaskRequests, *, keys: bool) -> dict[str, Any]:
    """The generated schema, with the request body's models added and FastAPI's 422s removed.

    The body is validated by hand (400, never 422), so FastAPI cannot see its model: one
    ``<Type>Request`` per task type, with the type's example. ``TaskType`` lists the
    task types this service runs. With
    API keys, the bearer scheme is declared (Swagger UI's Authorize button uses it) and
    every operation that needs a key says so.
    """
    if app.openapi_schema is not None:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        description=app.description,
        routes=app.routes,
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    request_schema = requests.json_schema()
    components.update(request_schema.pop("$defs", {}))
    if "oneOf" not in request_schema:
        # One task type: its request model is the whole body. Documented as a union of
        # one all the same, so that readers of the document find the types one way.
        (only,) = requests.models.items()
        name, model = only
        components[model.__name__] = request_schema
        ref = f"#/components/schemas/{model.__name__}"
        request_schema = {
            "oneOf": [{"$ref": ref}],
            "discriminator": {"propertyName": "task_type", "mapping": {name: ref}},
        }
    components["TaskRequest"] = request_schema
    components["TaskType"] = {
        "type": "string",
        "enum": list(requests.types),
        "title": "TaskType",
        "description": "A task type this service runs",
    }
    type_ref = {"$ref": "#/components/schemas/TaskType"}
    components["Task"]["properties"]["task_type"] = type_ref
    submit = schema["paths"]["/tasks"]["post"]["requestBody"]["content"][JSON_MEDIA_TYPE]
    submit["examples"] = submissions(requests.types)
    for parameter in schema["paths"]["/tasks"]["get"]["parameters"]:
        if parameter["name"] == "task_type":
            parameter["schema"] = {"anyOf": [type_ref, {"type": "null"}]}
    schedule_schema = requests.schedule_json_schema()
    components.update(schedule_schema.pop("$defs", {}))
    components["ScheduleRequest"] = schedule_schema
    for path, path_item in schema["paths"].items():
        for operation in path_item.values():
            operation["responses"].pop("422", None)
            if keys and is_protected(path):
                operation["security"] = [{"bearer": []}]
                operation["responses"]["401"] = {
                    "description": "No key, or not a valid one",
                    "content": {JSON_MEDIA_TYPE: {"schema": {"$ref": ERROR_BODY}}},
                }
    if keys:
        schema["components"]["securitySchemes"] = {
            "bearer": {
                "type": "http",
                "scheme": "bearer",
                "description": "An API key: `Authorization: Bearer <key>`",
            }
        }
    # BaseModel: what a task's parameters are in Python; documented as "Parameters".
    for unused in ("HTTPValidationError", "ValidationError", "BaseModel"):
        components.pop(unused, None)
    app.openapi_schema = schema
    return schema
