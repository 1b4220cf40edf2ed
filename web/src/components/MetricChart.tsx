// A time-series chart (uPlot) of the metrics a cluster reports, drawn from
// the cluster's status history (`GET /v1/clusters/{id}/status-history`).

import { Text } from "@mantine/core";
import { useEffect, useRef } from "react";
import uPlot from "uplot";

export interface Sample {
  at: number; // seconds since the epoch
  values: Record<string, number>;
}

/** The metric names of `samples` that `pattern` selects, sorted. */
export function seriesNames(samples: Sample[], pattern: RegExp): string[] {
  const names = new Set<string>();
  for (const sample of samples) for (const name of Object.keys(sample.values)) if (pattern.test(name)) names.add(name);
  return [...names].sort();
}

const COLORS = ["#3b5bdb", "#0ca678", "#e8590c", "#ae3ec9", "#1098ad", "#f08c00"];

export function MetricChart({ title, samples, pattern, unit }: { title: string; samples: Sample[]; pattern: RegExp; unit: string }) {
  const container = useRef<HTMLDivElement>(null);
  const names = seriesNames(samples, pattern);
  const key = names.join(",");

  useEffect(() => {
    const element = container.current;
    if (!element || names.length === 0 || samples.length < 2) return;
    const data: uPlot.AlignedData = [
      samples.map((sample) => sample.at),
      ...names.map((name) => samples.map((sample) => sample.values[name] ?? null)),
    ];
    const chart = new uPlot(
      {
        title,
        width: Math.max(280, element.clientWidth || 600),
        height: 220,
        series: [{}, ...names.map((name, index) => ({ label: name, stroke: COLORS[index % COLORS.length], width: 2 }))],
        axes: [{}, { label: unit }],
      },
      data,
      element,
    );
    const resize = () => chart.setSize({ width: Math.max(280, element.clientWidth), height: 220 });
    window.addEventListener("resize", resize);
    return () => {
      window.removeEventListener("resize", resize);
      chart.destroy();
    };
    // Rebuilt when the data changes; cheap at this size.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key, samples, title, unit]);

  if (names.length === 0) {
    return (
      <Text c="dimmed" size="sm">
        {title}: no metrics reported yet.
      </Text>
    );
  }
  if (samples.length < 2) {
    return (
      <Text c="dimmed" size="sm">
        {title}: waiting for a second report to draw the chart.
      </Text>
    );
  }
  return <div ref={container} role="img" aria-label={`${title} chart of ${names.join(", ")}`} />;
}
