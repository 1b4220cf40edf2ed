// Health at a glance: one badge per cluster phase or agent connection.

import { Badge } from "@mantine/core";

const GOOD = new Set(["running", "ready", "connected", "succeeded", "completed", "done", "ok", "applied"]);
const BAD = new Set(["failed", "disconnected", "halted", "error", "degraded", "refused"]);

export function health(state: string | undefined | null): "good" | "bad" | "pending" {
  const normalized = (state ?? "").toLowerCase();
  if (GOOD.has(normalized)) return "good";
  if (BAD.has(normalized)) return "bad";
  return "pending";
}

export function StatusBadge({ state, testId }: { state: string | undefined | null; testId?: string }) {
  const colors = { good: "teal.9", bad: "red.9", pending: "gray.7" } as const;
  return (
    <Badge color={colors[health(state)]} variant="filled" data-testid={testId}>
      {state || "unknown"}
    </Badge>
  );
}
