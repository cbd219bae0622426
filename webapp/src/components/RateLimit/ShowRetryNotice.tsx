import type { RetryNotice } from "../../hooks/useRetryNotice";
import { formatTime } from "../../format";

export interface ShowRetryNoticeProps {
  notice: RetryNotice;
  secondsLeft: number;
  onDismiss: () => void;
}

/** The API said 429: say so, and say when it will listen again. */
export function ShowRetryNotice({ notice, secondsLeft, onDismiss }: ShowRetryNoticeProps) {
  return (
    <div className="notice notice--warning" role="alert">
      <div>
        <strong>Too many requests.</strong> The API accepts new requests in{" "}
        <strong data-testid="retry-seconds">{secondsLeft} s</strong> (at{" "}
        {formatTime(new Date(notice.until).toISOString())}).
        <span className="muted"> Server: “{notice.detail}”</span>
      </div>
      <button type="button" className="button button--ghost" onClick={onDismiss} aria-label="Dismiss">
        ✕
      </button>
    </div>
  );
}
