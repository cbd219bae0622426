import { useCallback, useDeferredValue, useEffect, useMemo, useState } from "react";
import type { TaskStatus } from "./api/types";
import { ShowHeader } from "./components/Header/ShowHeader";
import { ShowMetrics } from "./components/Metrics/ShowMetrics";
import { PauseQueue } from "./components/Queue/PauseQueue";
import { ShowRetryNotice } from "./components/RateLimit/ShowRetryNotice";
import { ListSchedules } from "./components/Schedules/ListSchedules";
import { PutSchedule } from "./components/Schedules/PutSchedule";
import { ChartThroughput } from "./components/Stats/ChartThroughput";
import { ShowWorkers } from "./components/Stats/ShowWorkers";
import { SubmitTask } from "./components/Submit/SubmitTask";
import { FilterTasks } from "./components/Tasks/FilterTasks";
import { ListTasks } from "./components/Tasks/ListTasks";
import { ShowSnapshotProblem } from "./components/Tasks/ShowSnapshotProblem";
import { ShowTask } from "./components/Tasks/ShowTask";
import { useEvents } from "./hooks/useEvents";
import { useMetricsOffer } from "./hooks/useMetricsOffer";
import { useSchedules } from "./hooks/useSchedules";
import type { UseRetryNotice } from "./hooks/useRetryNotice";
import { useStats } from "./hooks/useStats";
import type { UseTaskForms } from "./hooks/useTaskForms";
import { useTaskLookup } from "./hooks/useTaskLookup";
import { useTasks } from "./hooks/useTasks";
import { lastWaitEnds } from "./format";
import { visibleTasks } from "./state/taskEvents";

const DEFAULT_WORKERS = 5;

/**
 * Ticks once a second while a task runs or waits for its run_at (until `waitEnds`, epoch
 * ms), for the live durations and countdowns; still otherwise.
 */
function useNow(running: boolean, waitEnds: number): number {
  const [now, setNow] = useState(Date.now);
  const active = running || waitEnds > now;
  useEffect(() => {
    if (!active) return;
    setNow(Date.now());
    const timer = setInterval(() => setNow(Date.now()), 1_000);
    return () => clearInterval(timer);
  }, [active]);
  return now;
}

export interface MonitorProps {
  /** The page's 429 notice: every refusal is reported to it, and the stream waits for it. */
  retry: UseRetryNotice;
  /** The submit forms, read from the API's description once per page load. */
  taskForms: UseTaskForms;
  /** Whether requests carry a key: the metrics are then read with it (an admin's only), and it can be forgotten. */
  keyHeld: boolean;
  onForgetKey: () => void;
}

/**
 * What one key (or none) may see: one snapshot of the newest tasks and one event stream
 * (the only requests a load spends from the rate limit), stats every few seconds for the
 * counts. The page mounts a new one for each new key, so nothing seen with one key is
 * shown with another.
 */
export function Monitor({ retry, taskForms, keyHeld, onForgetKey }: MonitorProps) {
  const { stats, figures, refresh: refreshStats, noteChanges } = useStats();
  const tasks = useTasks({ onRateLimited: retry.report, onStatusChanges: noteChanges });
  const reloadTasks = tasks.reload;
  const onResync = useCallback(() => {
    reloadTasks();
    refreshStats();
  }, [reloadTasks, refreshStats]);
  const connection = useEvents({
    onBatch: tasks.applyBatch,
    onResync,
    onRateLimited: retry.report,
    notBefore: retry.acceptsAt,
  });
  const [filter, setFilter] = useState<TaskStatus | null>(null);
  const [selectedId, setSelectedId] = useState<string | null>(null);
  const [showMetrics, setShowMetrics] = useState(false);
  const metrics = useMetricsOffer(keyHeld);
  const [sideView, setSideView] = useState<"submit" | "schedules">("submit");

  // A burst re-renders the big table at low priority, so typing in the form stays quick.
  const allTasks = useDeferredValue(tasks.tasks);
  const rows = useMemo(() => visibleTasks(allTasks, filter), [allTasks, filter]);
  const running = useMemo(() => visibleTasks(allTasks, "processing").reverse(), [allTasks]);
  const waitEnds = useMemo(() => lastWaitEnds(allTasks.values()), [allTasks]);
  const now = useNow(running.length > 0, waitEnds);
  const cancel = tasks.cancel;
  const onCancel = useCallback((taskId: string) => cancel(taskId), [cancel]);
  // A link in the details may name a task the snapshot did not hold: it is read once.
  const { looked, lookUp } = useTaskLookup({ onRateLimited: retry.report });
  const heldTasks = tasks.tasks;
  const openTask = useCallback((taskId: string) => {
    setSelectedId(taskId);
    if (!heldTasks.has(taskId)) lookUp(taskId);
  }, [heldTasks, lookUp]);
  const lookedUp = looked !== null && looked.taskId === selectedId ? looked.result : null;
  const selected = selectedId === null ? undefined : allTasks.get(selectedId) ?? (lookedUp?.state === "found" ? lookedUp.task : undefined);

  // The rows render from the deferred tasks, which can lag a render behind a snapshot that
  // just arrived: no row yet then is not "no tasks".
  const catchingUp = allTasks !== tasks.tasks;
  let emptyText: string | null = "No tasks here yet. Submit one with the form.";
  if (catchingUp) emptyText = allTasks.size === 0 ? "Loading tasks…" : null;
  else if (!tasks.loaded) emptyText = tasks.error === null ? "Loading tasks…" : null;
  else if (filter !== null) emptyText = `No ${filter} tasks among those loaded.`;

  return (
    <div className="app">
      <ShowHeader connection={connection} metrics={metrics}
        onShowMetrics={() => setShowMetrics(true)} onForgetKey={keyHeld ? onForgetKey : null} />
      {retry.notice !== null && (
        <ShowRetryNotice notice={retry.notice} secondsLeft={retry.secondsLeft} onDismiss={retry.dismiss} />
      )}
      <PauseQueue paused={stats?.paused ?? null} onChanged={refreshStats} />
      <div className="summary">
        <ShowWorkers total={stats?.workers.total ?? DEFAULT_WORKERS} running={running}
          processing={figures?.counts.processing ?? null} queueDepth={figures?.queueDepth ?? null} />
        <ChartThroughput points={stats?.completed_per_minute ?? []} />
      </div>
      <main className="main">
        <section className="panel panel--table" aria-label="Task list">
          <header className="panel__header">
            <h2>Tasks</h2>
            <FilterTasks counts={figures?.counts ?? null} selected={filter} onSelect={setFilter} />
          </header>
          {tasks.error !== null && (
            <ShowSnapshotProblem error={tasks.error} loaded={tasks.loaded} retryAt={tasks.retryAt} />
          )}
          {tasks.loaded && tasks.truncated && (
            <p className="muted snapshot-note" data-testid="tasks-truncated">
              The newest tasks are listed; older ones are counted above but were not loaded.
            </p>
          )}
          <ListTasks tasks={rows} selectedId={selectedId} onSelect={setSelectedId} onCancel={onCancel} now={now}
            emptyText={emptyText} />
        </section>
        <aside className="side">
          {showMetrics && <ShowMetrics onClose={() => setShowMetrics(false)} />}
          <div className="tabs" role="tablist" aria-label="Side panel">
            <button type="button" role="tab" className="tab" aria-selected={sideView === "submit"}
              onClick={() => setSideView("submit")}>Submit</button>
            <button type="button" role="tab" className="tab" aria-selected={sideView === "schedules"}
              onClick={() => setSideView("schedules")}>Schedules</button>
          </div>
          {sideView === "submit" ? (
            <SubmitTask forms={taskForms.forms} problem={taskForms.problem} retryAt={taskForms.retryAt}
              onSubmitted={setSelectedId} onRateLimited={retry.report} />
          ) : (
            <SchedulesView taskForms={taskForms} onRateLimited={retry.report} />
          )}
          {selectedId !== null && (
            <ShowTask taskId={selectedId} task={selected} lookedUp={lookedUp} tasks={allTasks} now={now}
              onCancel={onCancel} onClose={() => setSelectedId(null)} onSelect={openTask} />
          )}
        </aside>
      </main>
    </div>
  );
}

/** The schedules, and the form that adds one; read only while shown (each read is rate limited). */
function SchedulesView({ taskForms, onRateLimited }: { taskForms: UseTaskForms; onRateLimited: UseRetryNotice["report"] }) {
  const { schedules, error, reload, remove } = useSchedules();
  return (
    <>
      <ListSchedules schedules={schedules} error={error} onDelete={remove} />
      <PutSchedule forms={taskForms.forms} problem={taskForms.problem} retryAt={taskForms.retryAt}
        onSaved={reload} onRateLimited={onRateLimited} />
    </>
  );
}
