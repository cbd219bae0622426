import { formatTime } from "../../format";

export interface ThroughputPoint {
  minute: string;
  count: number;
}

export interface ChartThroughputProps {
  /** Oldest first; the last one is the minute in progress. */
  points: readonly ThroughputPoint[];
}

const WIDTH = 520;
const HEIGHT = 130;
const AXIS = 18;
const TOP = 14;

/** Completed tasks per minute as a bar chart, in plain SVG. */
export function ChartThroughput({ points }: ChartThroughputProps) {
  const max = Math.max(1, ...points.map((point) => point.count));
  const slot = points.length === 0 ? WIDTH : WIDTH / points.length;
  const plot = HEIGHT - AXIS - TOP;
  const total = points.reduce((sum, point) => sum + point.count, 0);
  const summary = `${total} completed in the last ${points.length} minutes`;
  return (
    <section className="panel" aria-label="Throughput">
      <header className="panel__header">
        <h2>Completed per minute</h2>
        <span className="muted">{summary}</span>
      </header>
      <svg className="chart" viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label={summary}>
        <line x1={0} x2={WIDTH} y1={HEIGHT - AXIS} y2={HEIGHT - AXIS} className="chart__axis" />
        {points.map((point, index) => {
          const height = (point.count / max) * plot;
          const x = index * slot + slot * 0.15;
          const y = HEIGHT - AXIS - height;
          const current = index === points.length - 1;
          return (
            <g key={point.minute}>
              <title>{`${formatTime(point.minute).slice(0, 5)}: ${point.count} completed`}</title>
              <rect x={x} y={y} width={slot * 0.7} height={Math.max(height, point.count > 0 ? 1 : 0)}
                className={current ? "chart__bar chart__bar--current" : "chart__bar"} rx={2} />
              {point.count > 0 && (
                <text x={x + slot * 0.35} y={y - 3} className="chart__value" textAnchor="middle">{point.count}</text>
              )}
              {(points.length - 1 - index) % 2 === 0 && (
                <text x={x + slot * 0.35} y={HEIGHT - 4} className="chart__label" textAnchor="middle">
                  {formatTime(point.minute).slice(0, 5)}
                </text>
              )}
            </g>
          );
        })}
      </svg>
    </section>
  );
}
