// Plain helpers behind the environment's provisioning and agent panels and
// the cluster's history charts; pure, so unit tests cover them.

import type { Schemas } from "../api/client";
import type { Sample } from "./MetricChart";

export type IntentReport = Schemas["IntentReportRecord"];
export type HistorySample = Schemas["ClusterStatusSample"];

/** The namespace the agent runs in unless its install chose another. */
export const AGENT_NAMESPACE = "fjord-system";

/** The command a customer runs to approve exactly `generation` (docs/operator.md, "Guardrails"). */
export function approvalCommand(generation: number, namespace = AGENT_NAMESPACE): string {
  return `kubectl annotate namespace ${namespace} --overwrite fjord.dev/agent-approved-generation=${generation}`;
}

export interface Decision {
  tone: "good" | "bad" | "pending";
  headline: string;
  /** Set when the customer's approval is what the intent waits for. */
  approval?: string;
}

/** The agent's latest decision on an intent, in words. */
export function describeDecision(report: IntentReport): Decision {
  const generation = `Generation ${report.generation}`;
  switch (report.outcome) {
    case "applied":
      return { tone: "good", headline: `${generation} applied.` };
    case "refused":
      return { tone: "bad", headline: `${generation} refused by the ${report.check ?? "unnamed"} check.` };
    case "waiting":
      if (report.check === "approval") {
        return {
          tone: "pending",
          headline: `${generation} is waiting for approval in the customer's cluster.`,
          approval: approvalCommand(report.generation),
        };
      }
      return { tone: "pending", headline: `${generation} is waiting (${report.check ?? "guardrail"}).` };
  }
}

/** Counts of a checklist's checks per status. */
export function checklistCounts(checks: readonly { status: string }[]): { ok: number; failed: number; pending: number } {
  const counts = { ok: 0, failed: 0, pending: 0 };
  for (const check of checks) {
    if (check.status === "ok") counts.ok += 1;
    else if (check.status === "failed") counts.failed += 1;
    else counts.pending += 1;
  }
  return counts;
}

/**
 * Chart samples from a status history (newest first, as the API answers):
 * oldest first, one per distinct second, with brokers ready as a series.
 */
export function historySamples(items: readonly HistorySample[]): Sample[] {
  const samples: Sample[] = [];
  for (const item of [...items].reverse()) {
    const at = Date.parse(item.reported_at) / 1000;
    if (!Number.isFinite(at)) continue;
    const values: Record<string, number> = { ...item.metrics };
    if (typeof item.brokers_ready === "number") values.brokers_ready = item.brokers_ready;
    const last = samples[samples.length - 1];
    if (last && last.at >= at) {
      // Same instant (or out of order): the later report wins.
      if (last.at === at) last.values = values;
      continue;
    }
    samples.push({ at, values });
  }
  return samples;
}
