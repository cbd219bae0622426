import { useCallback, useDeferredValue, useEffect, useMemo, useState } from "react";
import type { TaskEvent, TaskStatus } from "./api/types";
import { ShowConnection } from "./components/Connection/ShowConnection";
import { ShowRetryNotice } from "./components/RateLimit/ShowRetryNotice";
import { ChartThroughput } from "./components/Stats/ChartThroughput";
import { ShowWorkers } from "./components/Stats/ShowWorkers";
import { SubmitTask } from "./components/Submit/SubmitTask";
import { FilterTasks } from "./components/Tasks/FilterTasks";
import { ListTasks } from "./components/Tasks/ListTasks";
import { ShowTask } from "./components/Tasks/ShowTask";
import { useEvents } from "./hooks/useEvents";
import { useRetryNotice } from "./hooks/useRetryNotice";
import { useStats } from "./hooks/useStats";
import { useTasks } from "./hooks/useTasks";
import { countByStatus, visibleTasks } from "./state/taskEvents";

const DEFAULT_WORKERS = 5;

/** Ticks once a second while something is running, for the live durations. */
function useNow(active: boolean): number {
  const [now, setNow] = useState(Date.now);
  useEffect(() => {
    if (!active) return;
    setNow(Date.now());
    const timer = setInterval(() => setNow(Date.now()), 1_000);
    return () => clearInterval(timer);
  }, [active]);
  return now;
}

/** The monitor: one snapshot, one event stream, and stats every few seconds. */
export function App() {
  const retry = useRetryNotice();
  const tasks = useTasks({ onRateLimited: retry.report });
  const { stats, refresh: refreshStats } = useStats();
  const applyBatch = tasks.applyBatch;
  const onBatch = useCallback(
    (batch: TaskEvent[]) => {
      applyBatch(batch);
      // The throughput chart counts completions: fetch it again soon after one.
      if (batch.some((event) => event.kind === "completed")) refreshStats();
    },
    [applyBatch, refreshStats],
  );
  const connection = useEvents({ onBatch, onResync: tasks.reload });
  const [filter, setFilter] = useState<TaskStatus | null>(null);
  const [selectedId, setSelectedId] = useState<string | null>(null);

  // A burst re-renders the big table at low priority, so typing in the form stays quick.
  const allTasks = useDeferredValue(tasks.tasks);
  const counts = useMemo(() => countByStatus(allTasks.values()), [allTasks]);
  const rows = useMemo(() => visibleTasks(allTasks, filter), [allTasks, filter]);
  const running = useMemo(() => visibleTasks(allTasks, "processing").reverse(), [allTasks]);
  const now = useNow(counts.processing > 0);
  const cancel = tasks.cancel;
  const onCancel = useCallback((taskId: string) => cancel(taskId), [cancel]);

  return (
    <div className="app">
      <header className="topbar">
        <h1>Task Manager <span className="muted">monitor</span></h1>
        <nav className="topbar__links">
          <a href="/docs">API docs</a>
          <a href="/metrics">Metrics</a>
          <ShowConnection state={connection} />
        </nav>
      </header>
      {retry.notice !== null && (
        <ShowRetryNotice notice={retry.notice} secondsLeft={retry.secondsLeft} onDismiss={retry.dismiss} />
      )}
      {tasks.error !== null && !tasks.error.isRateLimited && (
        <div className="notice notice--error" role="alert">
          Could not load the tasks ({tasks.error.detail}); retrying.
        </div>
      )}
      <div className="summary">
        <ShowWorkers total={stats?.workers.total ?? DEFAULT_WORKERS} running={running} queueDepth={counts.queued} />
        <ChartThroughput points={stats?.completed_per_minute ?? []} />
      </div>
      <main className="main">
        <section className="panel panel--table" aria-label="Task list">
          <header className="panel__header">
            <h2>Tasks</h2>
            <FilterTasks counts={counts} selected={filter} onSelect={setFilter} />
          </header>
          {!tasks.loaded && tasks.error === null ? (
            <p className="empty">Loading tasks…</p>
          ) : (
            <ListTasks tasks={rows} selectedId={selectedId} onSelect={setSelectedId} onCancel={onCancel} now={now} />
          )}
        </section>
        <aside className="side">
          <SubmitTask onSubmitted={setSelectedId} onRateLimited={retry.report} />
          {selectedId !== null && (
            <ShowTask taskId={selectedId} task={allTasks.get(selectedId)} now={now}
              onCancel={onCancel} onClose={() => setSelectedId(null)} />
          )}
        </aside>
      </main>
    </div>
  );
}
