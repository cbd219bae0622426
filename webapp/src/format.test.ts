import { describe, expect, it } from "vitest";
import { makeTask } from "../test/fakes";
import { formatAttempts, formatCountdown, formatMoment, formatTime, lastWaitEnds, taskDuration, waitText } from "./format";

const at = (iso: string) => Date.parse(iso);

describe("formatCountdown", () => {
  it("rounds up to the second and grows units as the wait does", () => {
    expect(formatCountdown(200)).toBe("1 s");
    expect(formatCountdown(12_000)).toBe("12 s");
    expect(formatCountdown(125_000)).toBe("2 m 05 s");
    expect(formatCountdown(86_400_000)).toBe("24 h 00 m");
  });
});

describe("waitText", () => {
  const now = at("2026-11-28T06:00:00Z");

  it("says when a delayed task starts, and when a failed attempt is tried again", () => {
    expect(waitText(makeTask({ run_at: "2026-11-28T06:00:12Z" }), now)).toBe("starts in 12 s");
    expect(waitText(makeTask({ run_at: "2026-11-28T06:00:03Z", attempts: 1 }), now)).toBe("retry in 3 s");
  });

  it("says nothing for a task that may run now, or is not queued", () => {
    expect(waitText(makeTask({ run_at: "2026-11-28T05:59:59Z" }), now)).toBeNull();
    expect(waitText(makeTask({ status: "processing", run_at: "2026-11-28T06:00:12Z" }), now)).toBeNull();
  });
});

describe("the other task facts", () => {
  it("counts attempts out of one plus the retries", () => {
    expect(formatAttempts(makeTask({ attempts: 2, max_retries: 1 }))).toBe("2/2");
    expect(formatAttempts(makeTask())).toBe("0/1");
  });

  it("gives no duration to a task waiting for a retry, though an attempt started", () => {
    const waiting = makeTask({ status: "queued", attempts: 1, started_at: "2026-11-28T06:00:00Z" });
    expect(taskDuration(waiting, at("2026-11-28T06:00:09Z"))).toBe("—");
    expect(taskDuration({ ...waiting, status: "processing" }, at("2026-11-28T06:00:09Z"))).toBe("9.0 s");
  });

  it("finds the last moment a queued task waits for", () => {
    const tasks = [
      makeTask({ run_at: "2026-11-28T06:00:05Z" }),
      makeTask({ run_at: "2026-11-28T06:00:09Z", status: "completed" }),
      makeTask({ run_at: "2026-11-28T06:00:07Z" }),
    ];
    expect(lastWaitEnds(tasks)).toBe(at("2026-11-28T06:00:07Z"));
    expect(lastWaitEnds([])).toBe(Number.NEGATIVE_INFINITY);
  });
});

describe("formatMoment", () => {
  it("says the day of a moment that is not today, and only the time of one that is", () => {
    const now = new Date(2026, 11, 3, 17, 0, 0);
    expect(formatMoment(new Date(2026, 11, 3, 18, 30, 0).toISOString(), now)).toBe(
      formatTime(new Date(2026, 11, 3, 18, 30, 0).toISOString()),
    );
    const tomorrow = formatMoment(new Date(2026, 11, 4, 6, 30, 0).toISOString(), now);
    expect(tomorrow).toMatch(/4/);
    expect(tomorrow.endsWith(formatTime(new Date(2026, 11, 4, 6, 30, 0).toISOString()))).toBe(true);
    expect(tomorrow).not.toBe(formatTime(new Date(2026, 11, 4, 6, 30, 0).toISOString()));
    expect(formatMoment(null, now)).toBe("—");
  });
});
