import { render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { makeTask } from "../../../test/fakes";
import { ShowWorkers } from "./ShowWorkers";

describe("ShowWorkers", () => {
  it("shows a slot per worker, the busy ones with their task, and the queue depth", () => {
    const running = [makeTask({ status: "processing", progress: 0.5 }), makeTask({ status: "processing" })];
    render(<ShowWorkers total={5} running={running} queueDepth={7} />);
    expect(screen.getAllByRole("listitem", { name: /busy/ })).toHaveLength(2);
    expect(screen.getAllByRole("listitem", { name: /idle/ })).toHaveLength(3);
    expect(screen.getByText("2 busy · 3 idle")).toBeInTheDocument();
    expect(screen.getByTestId("queue-depth")).toHaveTextContent("7");
  });

  it("counts a worker busy with a task older than those loaded, and shows an unknown queue as a dash", () => {
    const running = [makeTask({ status: "processing" })];
    render(<ShowWorkers total={5} running={running} processing={3} queueDepth={null} />);
    expect(screen.getAllByRole("listitem", { name: /busy/ })).toHaveLength(3);
    expect(screen.getByText("3 busy · 2 idle")).toBeInTheDocument();
    expect(screen.getByTestId("queue-depth")).toHaveTextContent("–");
  });
});
