import type { ConnectionState } from "../../hooks/useEvents";

export interface ShowConnectionProps {
  state: ConnectionState;
}

const LABELS: Record<ConnectionState, string> = {
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting…",
  refused: "Needs a key",
};

/** A dot and a word: is the monitor receiving live updates? */
export function ShowConnection({ state }: ShowConnectionProps) {
  return (
    <span className={`connection connection--${state}`} role="status" aria-live="polite" data-state={state}>
      <span className="connection__dot" aria-hidden="true" />
      {LABELS[state]}
    </span>
  );
}
