// The environment's checklist and network panels against a fake API: what
// they show, which buttons an admin gets, and that a missing network is a
// state rather than an error.
import { MantineProvider } from "@mantine/core";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import type { ReactNode } from "react";
import { afterEach, describe, expect, it, vi } from "vitest";

const server = vi.hoisted(() => {
  const answers = new Map<string, { status: number; body: unknown }>();
  const requests: string[] = [];
  const fetchImpl = async (input: Request) => {
    const key = `${input.method} ${new URL(input.url).pathname}`;
    requests.push(key);
    const answer = answers.get(key) ?? { status: 404, body: { title: "Not found", status: 404, detail: "no route" } };
    const type = answer.status < 400 ? "application/json" : "application/problem+json";
    return new Response(JSON.stringify(answer.body), { status: answer.status, headers: { "content-type": type } });
  };
  return { answers, requests, fetchImpl };
});

vi.mock("../api/client", async (importOriginal) => {
  const actual = await importOriginal<typeof import("../api/client")>();
  return { ...actual, api: actual.createApi("http://console.test", server.fetchImpl as unknown as typeof fetch) };
});

const { ChecklistPanel, NetworkPanel } = await import("./EnvironmentProvisioning");

const ENV = "0000-env";
const wrap = (node: ReactNode) => render(<MantineProvider>{node}</MantineProvider>);

afterEach(() => {
  cleanup();
  server.answers.clear();
  server.requests.length = 0;
});

describe("provisioning checklist panel", () => {
  it("shows each check with its status, message and AWS code, and re-runs it", async () => {
    const checklist = {
      environment_id: ENV,
      state: "done",
      operation_id: null,
      updated_at: new Date().toISOString(),
      checks: [
        { name: "assume-role", status: "ok", message: "assumed the role with the external id" },
        { name: "permissions", status: "failed", message: "the role does not allow CreateVpc", aws_code: "UnauthorizedOperation" },
      ],
    };
    server.answers.set(`GET /v1/environments/${ENV}/checklist`, { status: 200, body: checklist });
    server.answers.set(`POST /v1/environments/${ENV}/checklist`, { status: 202, body: { ...checklist, state: "running" } });
    wrap(<ChecklistPanel environmentId={ENV} isAdmin />);
    await screen.findByText("the role does not allow CreateVpc");
    expect(screen.getByTestId("checklist-summary").textContent).toMatch(/^Checked .*: 1 ok, 1 failed, 0 pending\.$/);
    expect(screen.getByTestId("check-permissions").textContent).toContain("(AWS UnauthorizedOperation)");
    fireEvent.click(screen.getByRole("button", { name: "Run checks" }));
    await waitFor(() => expect(server.requests).toContain(`POST /v1/environments/${ENV}/checklist`));
  });

  it("gives a viewer no button", async () => {
    server.answers.set(`GET /v1/environments/${ENV}/checklist`, {
      status: 200,
      body: { environment_id: ENV, state: "running", updated_at: new Date().toISOString(), checks: [] },
    });
    wrap(<ChecklistPanel environmentId={ENV} isAdmin={false} />);
    await screen.findByText(/^Checks running/);
    expect(screen.queryByRole("button", { name: "Run checks" })).toBeNull();
  });
});

describe("network panel", () => {
  it("says when there are no network settings yet, without an error", async () => {
    server.answers.set(`GET /v1/environments/${ENV}/network`, {
      status: 200,
      body: { environment_id: ENV, settings: null, state: "unconfigured", steps: [], revision: 0, updated_at: new Date().toISOString() },
    });
    const { container } = wrap(<NetworkPanel environmentId={ENV} isAdmin />);
    await screen.findByTestId("network-unset");
    expect(container.querySelector("[role=alert]")).toBeNull();
    expect(screen.queryByRole("button", { name: /Provision/ })).toBeNull();
  });

  it("shows a failed provisioning with its message and steps, and provisions again", async () => {
    server.answers.set(`GET /v1/environments/${ENV}/network`, {
      status: 200,
      body: {
        environment_id: ENV,
        settings: { zone_count: 3, broker_count: 3 },
        state: "failed",
        message: "UnauthorizedOperation: the role does not allow CreateSubnet",
        revision: 2,
        updated_at: new Date().toISOString(),
        steps: [
          { step: "vpc", outcome: "ok", message: "vpc: created vpc-0a1b2c3d", created_at: new Date().toISOString() },
          { step: "subnets", outcome: "failed", message: "the role does not allow CreateSubnet", aws_code: "UnauthorizedOperation", created_at: new Date().toISOString() },
        ],
      },
    });
    server.answers.set(`POST /v1/environments/${ENV}/network/provision`, { status: 202, body: {} });
    wrap(<NetworkPanel environmentId={ENV} isAdmin />);
    await screen.findByText("UnauthorizedOperation: the role does not allow CreateSubnet");
    expect(screen.getByTestId("network-state").textContent).toBe("failed");
    expect(screen.getByTestId("step-subnets").textContent).toContain("failed");
    expect(screen.getByTestId("step-subnets").textContent).toContain("(AWS UnauthorizedOperation)");
    fireEvent.click(screen.getByRole("button", { name: "Provision network" }));
    await waitFor(() => expect(server.requests).toContain(`POST /v1/environments/${ENV}/network/provision`));
  });
});
