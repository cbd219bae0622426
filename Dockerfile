# syntax=docker/dockerfile:1
# Task Manager: the API, with the web monitor's built files served at /.
#   docker build -t taskmanager .        docker run -p 8000:8000 taskmanager
# tests/containers/test_python_image.py replays the `build` stage's commands and the CMD
# outside Docker, so keep those stages in plain shell that works with paths taken from ENV.

# --- The monitor: Vite + React, built once, only its static files are kept. -------------
FROM node:22-bookworm-slim AS monitor
WORKDIR /src/webapp
# The lock file alone decides the dependency layer; a source change does not reinstall.
COPY webapp/package.json webapp/package-lock.json ./
RUN --mount=type=cache,target=/root/.npm \
    npm ci --no-audit --no-fund
COPY webapp/ ./
RUN npm run build

# --- The Python package, with Redis support, in a virtual environment copied whole. -----
FROM python:3.12-slim AS build
ENV VIRTUAL_ENV=/opt/venv \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv "$VIRTUAL_ENV"
# Dependency layer first: the runtime dependencies and the `redis` extra (for
# TASKMANAGER_REDIS_URL, as docker-compose.yml runs it) are read from pyproject.toml alone,
# so a change to the code reuses this layer. pip's cache lives in a build cache mount,
# never in a layer, and this stage is discarded anyway.
COPY pyproject.toml ./
RUN --mount=type=cache,target=/root/.cache/pip \
    python -c 'import tomllib; project = tomllib.load(open("pyproject.toml", "rb"))["project"]; print(*project["dependencies"], *project["optional-dependencies"]["redis"], sep="\n")' > requirements.txt \
    && "$VIRTUAL_ENV/bin/pip" install -r requirements.txt
COPY README.md ./
COPY taskmanager/ taskmanager/
RUN --mount=type=cache,target=/root/.cache/pip \
    "$VIRTUAL_ENV/bin/pip" install --no-deps .

# --- The runtime image: no compilers, no pip cache, no build files, not root. ------------
FROM python:3.12-slim AS runtime
ENV VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    TASKMANAGER_WEB_DIR=/app/webapp/dist
RUN groupadd --system --gid 10001 taskmanager \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin taskmanager
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY --from=monitor /src/webapp/dist webapp/dist
USER 10001:10001
EXPOSE 8000
# The slim image has no curl: ask /healthz with the standard library.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)"]
# Exec form: python is PID 1 and gets SIGTERM itself; uvicorn then drains open requests
# within TASKMANAGER_SHUTDOWN_GRACE seconds and exits 0 (give `docker stop -t` more).
STOPSIGNAL SIGTERM
CMD ["python", "-m", "taskmanager", "--host", "0.0.0.0", "--port", "8000"]
