import { MantineProvider } from "@mantine/core";
import { cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import type { ReactNode } from "react";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { BrokerStatus, Cluster } from "../api/client";
import { BootstrapAddress, BrokersTable, brokersReady, sortedBrokers } from "./Brokers";

const wrap = (node: ReactNode) => render(<MantineProvider>{node}</MantineProvider>);

const brokers: BrokerStatus[] = [
  { broker_id: 2, state: "restarting", ready: false },
  { broker_id: 0, version: "0.2.0", state: "serving", ready: true, rack: "eu-west-1a" },
  { broker_id: 1, version: "0.1.0", state: "maintenance", ready: true, rack: "eu-west-1b" },
];

function cluster(status: Partial<Cluster["status"]>, broker_count = 3): Pick<Cluster, "broker_count" | "status"> {
  return { broker_count, status: { phase: "ready", conditions: [], metrics: {}, brokers: [], ...status } };
}

afterEach(() => {
  cleanup();
  vi.restoreAllMocks();
});

describe("brokers table", () => {
  it("lists each broker by id with version, state, readiness and rack", () => {
    wrap(<BrokersTable brokers={brokers} reported />);
    const rows = within(screen.getByTestId("brokers")).getAllByRole("row").slice(1);
    expect(rows.map((row) => within(row).getAllByRole("cell").map((cell) => cell.textContent))).toEqual([
      ["0", "0.2.0", "serving", "yes", "eu-west-1a"],
      ["1", "0.1.0", "maintenance", "yes", "eu-west-1b"],
      ["2", "unknown", "restarting", "no", "none"],
    ]);
    expect(screen.getAllByRole("columnheader").map((header) => header.textContent)).toEqual(["Broker", "Version", "State", "Ready", "Rack"]);
  });

  it("says whether the agent has not reported yet or reported no brokers", () => {
    const { rerender } = wrap(<BrokersTable brokers={[]} reported={false} />);
    expect(screen.getByTestId("empty").textContent).toBe("No brokers yet: the agent has not reported this cluster.");
    rerender(
      <MantineProvider>
        <BrokersTable brokers={[]} reported />
      </MantineProvider>,
    );
    expect(screen.getByTestId("empty").textContent).toBe("The agent reports no brokers for this cluster yet.");
    expect(screen.queryByTestId("brokers")).toBeNull();
  });

  it("sorts by id without changing the report", () => {
    expect(sortedBrokers(brokers).map((broker) => broker.broker_id)).toEqual([0, 1, 2]);
    expect(brokers.map((broker) => broker.broker_id)).toEqual([2, 0, 1]);
  });
});

describe("brokers ready", () => {
  it("counts what the agent reported out of the brokers asked for", () => {
    expect(brokersReady(cluster({ brokers_ready: 2 }))).toBe("2/3 brokers ready");
    expect(brokersReady(cluster({ brokers }, 5))).toBe("2/5 brokers ready");
    expect(brokersReady(cluster({}))).toBe("0/3 brokers ready");
  });
});

describe("bootstrap address", () => {
  it("says when there is none yet", () => {
    wrap(<BootstrapAddress address={undefined} />);
    expect(screen.getByTestId("bootstrap-address-missing").textContent).toBe("not reported yet");
    expect(screen.queryByRole("button")).toBeNull();
  });

  it("shows the address and copies it to the clipboard", async () => {
    const writeText = vi.fn().mockResolvedValue(undefined);
    Object.defineProperty(navigator, "clipboard", { value: { writeText }, configurable: true });
    wrap(<BootstrapAddress address="orders-kafka.fjord.svc:9092" />);
    expect(screen.getByTestId("bootstrap-address").textContent).toBe("orders-kafka.fjord.svc:9092");
    fireEvent.click(screen.getByRole("button", { name: "Copy address" }));
    await waitFor(() => expect(screen.getByRole("button", { name: "Copied" })).toBeTruthy());
    expect(writeText).toHaveBeenCalledWith("orders-kafka.fjord.svc:9092");
  });
});
