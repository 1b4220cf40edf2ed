import { MantineProvider } from "@mantine/core";
import { render, screen } from "@testing-library/react";
import type { ReactNode } from "react";
import { describe, expect, it } from "vitest";
import { auditQuery } from "../pages/Audit";
import { toWaves } from "../pages/Rollouts";
import { formatConfig, parseConfig } from "../pages/Topics";
import { seriesNames, type Sample } from "./MetricChart";
import { Polled } from "./States";
import { StatusBadge, health } from "./StatusBadge";
import { ago } from "./forms";

const wrap = (node: ReactNode) => render(<MantineProvider>{node}</MantineProvider>);

describe("status at a glance", () => {
  it("classifies phases and connection states", () => {
    expect(health("running")).toBe("good");
    expect(health("Connected")).toBe("good");
    expect(health("failed")).toBe("bad");
    expect(health("disconnected")).toBe("bad");
    expect(health("provisioning")).toBe("pending");
    expect(health(undefined)).toBe("pending");
  });

  it("shows the state's name, or unknown", () => {
    wrap(<StatusBadge state={null} testId="badge" />);
    expect(screen.getByTestId("badge").textContent).toBe("unknown");
  });
});

describe("loading, empty and error states", () => {
  it("shows loading, then the empty message, then the items", () => {
    const view = (data: string[] | undefined, error?: unknown) => (
      <MantineProvider>
        <Polled data={data} error={error} what="topics" empty="No topics yet.">
          {(items) => <ul>{items.map((item) => <li key={item}>{item}</li>)}</ul>}
        </Polled>
      </MantineProvider>
    );
    const { rerender } = render(view(undefined));
    expect(screen.getByRole("status").textContent).toContain("Loading topics");
    rerender(view([]));
    expect(screen.getByTestId("empty").textContent).toBe("No topics yet.");
    rerender(view(["payments"], new Error("poll failed")));
    expect(screen.getByRole("listitem").textContent).toBe("payments");
    expect(screen.getByRole("alert").textContent).toContain("poll failed");
  });
});

describe("form helpers", () => {
  it("reads and writes topic configuration as key=value lines", () => {
    const config = parseConfig(" retention.ms = 86400000\n\ncleanup.policy=compact\n");
    expect(config).toEqual({ "retention.ms": "86400000", "cleanup.policy": "compact" });
    expect(parseConfig(formatConfig(config))).toEqual(config);
  });

  it("groups clusters into waves by number, leaving out wave 0", () => {
    expect(toWaves({ a: 2, b: 1, c: 2, d: 0 })).toEqual([["b"], ["a", "c"]]);
    expect(toWaves({})).toEqual([]);
  });

  it("says how long ago something happened", () => {
    const now = Date.parse("2026-01-01T12:00:00Z");
    expect(ago(null, now)).toBe("never");
    expect(ago("2026-01-01T11:59:30Z", now)).toBe("30 s ago");
    expect(ago("2026-01-01T11:00:00Z", now)).toBe("1 h ago");
  });

  it("finds the series a chart draws", () => {
    const samples: Sample[] = [
      { at: 10, values: { bytes_in_per_second: 5 } },
      { at: 20, values: { bytes_in_per_second: 7, consumer_lag: 3 } },
    ];
    expect(seriesNames(samples, /lag/)).toEqual(["consumer_lag"]);
    expect(seriesNames(samples, /bytes|lag/)).toEqual(["bytes_in_per_second", "consumer_lag"]);
  });
});

describe("audit filters", () => {
  it("sends only the filters that are filled in, and times in UTC", () => {
    const query = auditQuery({ actor: " user:ada@example.com ", action: "", object_type: "cluster", object_id: "", since: "2026-01-01T10:00" }, "next");
    expect(query.actor).toBe("user:ada@example.com");
    expect(query.action).toBeUndefined();
    expect(query.object_type).toBe("cluster");
    expect(query.since).toBe(new Date("2026-01-01T10:00").toISOString());
    expect(query.cursor).toBe("next");
    expect(query.limit).toBe(25);
  });
});
