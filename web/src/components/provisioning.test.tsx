import { MantineProvider } from "@mantine/core";
import { render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { IntentDecisionPanel } from "../pages/EnvironmentProvisioning";
import { approvalCommand, checklistCounts, describeDecision, historySamples, type HistorySample, type IntentReport } from "./provisioning";

const report = (outcome: IntentReport["outcome"], check: string | null, message = ""): IntentReport => ({
  generation: 7,
  outcome,
  check,
  message,
  reported_at: "2026-01-01T12:00:00Z",
});

describe("the agent's latest decision", () => {
  it("says applied, refused with its check, or waiting with its guardrail", () => {
    expect(describeDecision(report("applied", null))).toEqual({ tone: "good", headline: "Generation 7 applied." });
    expect(describeDecision(report("refused", "signature")).headline).toBe("Generation 7 refused by the signature check.");
    expect(describeDecision(report("refused", "signature")).tone).toBe("bad");
    const paused = describeDecision(report("waiting", "maintenance-window"));
    expect(paused.headline).toBe("Generation 7 is waiting (maintenance-window).");
    expect(paused.approval).toBeUndefined();
  });

  it("gives the kubectl command that approves exactly the waiting generation", () => {
    expect(describeDecision(report("waiting", "approval")).approval).toBe(
      "kubectl annotate namespace fjord-system --overwrite fjord.dev/agent-approved-generation=7",
    );
    expect(approvalCommand(12, "streaming")).toBe("kubectl annotate namespace streaming --overwrite fjord.dev/agent-approved-generation=12");
  });

  it("shows the approval command and the agent's message on the page", () => {
    render(
      <MantineProvider>
        <IntentDecisionPanel report={report("waiting", "approval", "the diff is in ConfigMap fjord-agent-pending")} />
      </MantineProvider>,
    );
    expect(screen.getByTestId("intent-outcome").textContent).toBe("waiting");
    expect(screen.getByTestId("approval-command").textContent).toContain("agent-approved-generation=7");
    expect(screen.getByText("the diff is in ConfigMap fjord-agent-pending")).toBeTruthy();
  });

  it("says so when the agent has not decided anything yet", () => {
    const { container } = render(
      <MantineProvider>
        <IntentDecisionPanel report={null} />
      </MantineProvider>,
    );
    expect(container.querySelector("[data-testid=intent-decision]")?.textContent).toContain("has not reported a decision");
  });
});

describe("checklist", () => {
  it("counts checks by status, anything unknown as pending", () => {
    expect(checklistCounts([{ status: "ok" }, { status: "failed" }, { status: "pending" }, { status: "ok" }, { status: "new" }])).toEqual({
      ok: 2,
      failed: 1,
      pending: 2,
    });
    expect(checklistCounts([])).toEqual({ ok: 0, failed: 0, pending: 0 });
  });
});

describe("status history", () => {
  const sample = (reported_at: string, brokers_ready: number | null, metrics: Record<string, number>): HistorySample => ({
    reported_at,
    phase: "running",
    version: "0.1.0",
    brokers_ready,
    metrics,
  });

  it("turns newest-first history into oldest-first samples with brokers ready", () => {
    const samples = historySamples([
      sample("2026-01-01T12:00:20Z", 3, { consumer_lag: 4 }),
      sample("2026-01-01T12:00:10Z", 1, { consumer_lag: 12 }),
    ]);
    expect(samples.map((s) => s.at)).toEqual([Date.parse("2026-01-01T12:00:10Z") / 1000, Date.parse("2026-01-01T12:00:20Z") / 1000]);
    expect(samples.map((s) => s.values.brokers_ready)).toEqual([1, 3]);
    expect(samples[0]?.values.consumer_lag).toBe(12);
  });

  it("keeps one sample per instant, skips unreadable times and absent broker counts", () => {
    const samples = historySamples([
      sample("2026-01-01T12:00:10Z", 2, { bytes_in_per_second: 9 }),
      sample("2026-01-01T12:00:10Z", null, { bytes_in_per_second: 5 }),
      sample("not a time", 1, {}),
    ]);
    expect(samples).toHaveLength(1);
    expect(samples[0]?.values).toEqual({ bytes_in_per_second: 9, brokers_ready: 2 });
    expect(historySamples([])).toEqual([]);
  });
});
