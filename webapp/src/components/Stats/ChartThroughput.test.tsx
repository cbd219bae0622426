import { render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { ChartThroughput } from "./ChartThroughput";

describe("ChartThroughput", () => {
  it("draws one bar per minute, the tallest for the busiest minute", () => {
    const points = [
      { minute: "2026-11-28T06:00:00Z", count: 2 },
      { minute: "2026-11-28T06:01:00Z", count: 8 },
      { minute: "2026-11-28T06:02:00Z", count: 0 },
    ];
    const { container } = render(<ChartThroughput points={points} />);
    expect(screen.getByRole("img")).toHaveAccessibleName("10 completed in the last 3 minutes");
    const bars = [...container.querySelectorAll("rect")];
    expect(bars).toHaveLength(3);
    const heights = bars.map((bar) => Number(bar.getAttribute("height")));
    expect(heights[1]).toBeGreaterThan(heights[0]!);
    expect(heights[2]).toBe(0);
    expect(screen.getByText("8")).toBeInTheDocument();
  });
});
