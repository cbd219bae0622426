import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { ApiError } from "../../api/client";
import { PauseQueue } from "./PauseQueue";

describe("PauseQueue", () => {
  it("pauses a running queue and asks for the stats again", async () => {
    const set = vi.fn(async (paused: boolean) => ({ paused }));
    const onChanged = vi.fn();
    render(<PauseQueue paused={false} onChanged={onChanged} set={set} />);
    expect(screen.getByTestId("queue-state")).toHaveTextContent("The queue runs.");
    await userEvent.click(screen.getByRole("button", { name: "Pause the queue" }));
    expect(set).toHaveBeenCalledWith(true);
    expect(onChanged).toHaveBeenCalled();
  });

  it("shows a banner while paused, and resumes", async () => {
    const set = vi.fn(async (paused: boolean) => ({ paused }));
    render(<PauseQueue paused={true} onChanged={vi.fn()} set={set} />);
    expect(screen.getByTestId("queue-state")).toHaveTextContent(/The queue is paused/);
    await userEvent.click(screen.getByRole("button", { name: "Resume the queue" }));
    expect(set).toHaveBeenCalledWith(false);
  });

  it("says that only an admin key may pause", async () => {
    const set = vi.fn(async () => Promise.reject(new ApiError(403, "for admin keys only", null)));
    render(<PauseQueue paused={false} onChanged={vi.fn()} set={set} />);
    await userEvent.click(screen.getByRole("button", { name: "Pause the queue" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("Only an admin key may pause or resume the queue.");
  });

  it("shows nothing until the stats say", () => {
    const { container } = render(<PauseQueue paused={null} onChanged={vi.fn()} />);
    expect(container).toBeEmptyDOMElement();
  });
});
