#!/usr/bin/env bash
# Task Manager's one entry point: ./run.sh init [--dev] | dev | start | worker | test | web | bench | loadtest
set -euo pipefail
# A path setting given relative to where the command was typed means that place, not the
# checkout this script changes into next.
for setting in TASKMANAGER_API_KEYS_FILE TASKMANAGER_WEB_DIR; do
    if [[ -n ${!setting:-} && ${!setting} != /* ]]; then
        export "$setting=$PWD/${!setting}"
    fi
done
cd "$(dirname "$0")"

VENV=.venv
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}

die() { echo "run.sh: $*" >&2; exit 1; }

# A Python >= 3.12 that really runs: $PYTHON, then python3.13/python3.12/python3 on PATH,
# then pyenv's installs (a pyenv shim on PATH can exist and still fail to run).
find_python() {
    local candidate
    local -a candidates=()
    [[ -n ${PYTHON:-} ]] && candidates+=("$PYTHON")
    candidates+=(python3.13 python3.12 python3)
    if command -v pyenv >/dev/null 2>&1; then
        candidates+=("$(pyenv root)"/versions/3.1[2-9]*/bin/python3)
    fi
    candidates+=("$HOME"/.pyenv/versions/3.1[2-9]*/bin/python3)
    for candidate in "${candidates[@]}"; do
        if "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1; then
            command -v "$candidate" || echo "$candidate"
            return 0
        fi
    done
    [[ -n ${PYTHON:-} ]] && die "PYTHON=$PYTHON is not a working Python 3.12 or newer"
    die "no Python 3.12 or newer found: install one, or point PYTHON at it"
}

# Whether the extras named in $1 (space-separated, as the stamp records them) include
# each of the others; dev brings client and redis with it.
has_extras() {
    local installed=" $1 " extra
    shift
    [[ $installed == *" dev "* ]] && installed+=" client redis "
    for extra in "$@"; do
        [[ $installed == *" $extra "* ]] || return 1
    done
}

# Create or refresh the virtual environment with the extras named (dev: the test and lint
# tools; redis: the Redis backend). It installs only when pyproject.toml changed since the
# last install or an extra is missing, and keeps the extras installed before. The stamp
# holds the extras installed, then the pyproject.toml they were installed from.
ensure_env() {
    local stamp=$VENV/.installed
    local project installed=""
    project=$(cat pyproject.toml)
    if [[ -x $VENV/bin/python && -f $stamp ]]; then
        installed=$(head -n 1 "$stamp")
        if [[ $(tail -n +2 "$stamp") == "$project" ]] && has_extras "$installed" "$@"; then
            return 0
        fi
        [[ $installed == "[project]" ]] && installed=""  # a stamp from before it named extras
    fi
    if [[ ! -x $VENV/bin/python ]]; then
        local python
        python=$(find_python)
        echo "run.sh: creating $VENV with $("$python" --version)" >&2
        "$python" -m venv "$VENV"
    fi
    local extras
    extras=$(printf '%s\n' $installed "$@" | sort -u | paste -sd, -)
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet -e ".${extras:+[$extras]}"
    printf '%s\n%s\n' "${extras//,/ }" "$project" > "$stamp"
}

# Install the monitor's npm packages when the lock file changed since the last install.
ensure_web_deps() {
    command -v npm >/dev/null 2>&1 || die "npm not found: install Node.js 20 or newer for the web monitor"
    if [[ ! -f webapp/node_modules/.package-lock.json ]] || [[ webapp/package-lock.json -nt webapp/node_modules/.package-lock.json ]]; then
        (cd webapp && npm ci --no-audit --no-fund)
    fi
}

# Build the monitor so the API serves it at /; without npm the API runs alone.
build_web() {
    if ! command -v npm >/dev/null 2>&1; then
        echo "run.sh: npm not found; serving the API without the web monitor" >&2
        return 0
    fi
    ensure_web_deps
    (cd webapp && npm run build --silent)
}

cmd_init() {
    if [[ ${1:-} == --dev ]]; then ensure_env dev; else ensure_env; fi
    echo "run.sh: environment ready in $VENV" >&2
}

cmd_dev() {
    ensure_env dev
    build_web
    # Room for one person trying the API by hand (README's walk, the monitor, the command)
    # without waiting out a 429 every few steps; `start` keeps the default of 10 a minute.
    export TASKMANAGER_RATE_LIMIT=${TASKMANAGER_RATE_LIMIT:-600/minute}
    exec "$VENV/bin/python" -m taskmanager --reload --host "$HOST" --port "$PORT"
}

cmd_start() {
    # The Redis backend needs redis-py, which only its extra installs.
    if [[ -n ${TASKMANAGER_REDIS_URL:-} ]]; then ensure_env redis; else ensure_env; fi
    exec "$VENV/bin/python" -m taskmanager --host "$HOST" --port "$PORT"
}

# Workers and no HTTP server, on the tasks in Redis (TASKMANAGER_REDIS_URL).
cmd_worker() {
    ensure_env redis
    exec "$VENV/bin/python" -m taskmanager worker "$@"
}

cmd_test() {
    ensure_env dev
    local bin=$VENV/bin
    echo "== ruff check" && "$bin/ruff" check .
    echo "== ruff format --check" && "$bin/ruff" format --check .
    # mypy and the monitor's checks mostly wait on a single process or on the browser, so
    # they run beside pytest's parallel phase; their output is shown once that phase ends,
    # and they are over before the serial phase starts.
    local checks_log checks_pid checks=0 parallel=0 serial=0
    checks_log=$(mktemp)
    # shellcheck disable=SC2064 # the path is known now; the local is gone at exit
    trap "rm -f '$checks_log'" EXIT
    echo "== mypy and the web checks: running beside pytest, shown after its parallel phase"
    static_and_web_checks >"$checks_log" 2>&1 &
    checks_pid=$!
    pytest_phase parallel "$@" || parallel=$?
    wait "$checks_pid" || checks=$?
    cat "$checks_log"
    pytest_phase serial "$@" || serial=$?
    # Status 5 is pytest's "no test selected": fine for one phase (the arguments picked
    # tests of the other one only), not for both.
    if ((parallel == 5 && serial == 5)); then
        serial=0
    else
        ((parallel == 5)) && parallel=0
        ((serial == 5)) && serial=0
    fi
    ((checks == 0)) || echo "run.sh: mypy or a web check failed (status $checks): see above" >&2
    ((parallel == 0 || parallel == 5)) || echo "run.sh: pytest's parallel phase failed (status $parallel)" >&2
    ((serial == 0)) || echo "run.sh: pytest's serial phase failed (status $serial)" >&2
    ((checks == 0 && serial == 0)) || return 1
    return "$parallel"
}

# What runs beside pytest; stops at the first failure, with the usual section headers.
static_and_web_checks() {
    local bin=$VENV/bin
    set -e
    echo "== mypy" && "$bin/mypy"
    ensure_web_deps
    echo "== web: API types match the backend's OpenAPI" && (cd webapp && PYTHON=$PWD/../$bin/python npm run --silent check:api)
    echo "== web: vitest" && (cd webapp && npm test --silent)
    echo "== web: end-to-end in Chromium" && (cd webapp && PYTHON=$PWD/../$bin/python npm run --silent e2e)
}

# pytest in two phases: every test not marked `serial` spread over the cores (pytest-xdist),
# then those marked serial, which assert latencies and deadlines, alone, so that the load of
# the first phase cannot fail them. Both get the extra arguments of `./run.sh test`.
pytest_phase() {
    local phase=$1
    shift
    if [[ $phase == parallel ]]; then
        local workers=${TASKMANAGER_TEST_WORKERS:-$(nproc)}
        echo "== pytest: every test not marked serial, in $workers processes"
        "$VENV/bin/pytest" --phase=parallel -n "$workers" "$@"
    else
        echo "== pytest: the tests marked serial (latencies, deadlines), alone"
        "$VENV/bin/pytest" --phase=serial -n 0 "$@"
    fi
}

cmd_web() {
    ensure_web_deps
    cd webapp && exec npm run dev
}

cmd_bench() {
    ensure_env dev
    exec "$VENV/bin/python" -m bench.run "$@"
}

cmd_loadtest() {
    ensure_env dev
    exec "$VENV/bin/python" -m loadtest.run "$@"
}

case ${1:-} in
    init) shift; cmd_init "$@" ;;
    dev) shift; cmd_dev "$@" ;;
    start) shift; cmd_start "$@" ;;
    worker) shift; cmd_worker "$@" ;;
    test) shift; cmd_test "$@" ;;
    web) shift; cmd_web "$@" ;;
    bench) shift; cmd_bench "$@" ;;
    loadtest) shift; cmd_loadtest "$@" ;;
    *) echo "usage: ./run.sh init [--dev] | dev | start | worker [--health-file PATH] | test [pytest args] | web | bench | loadtest" >&2; exit 2 ;;
esac
