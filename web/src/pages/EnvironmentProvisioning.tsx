// The environment's provisioning panels: the preflight checklist (re-run),
// the network and its provisioning steps (provision), and the agent's
// latest decision on an intent, with the approval command when it waits.

import { Button, Card, Code, Group, Table, Text, Title } from "@mantine/core";
import { useState } from "react";
import { api, ok } from "../api/client";
import { Loading, Problem } from "../components/States";
import { StatusBadge } from "../components/StatusBadge";
import { ago } from "../components/forms";
import { checklistCounts, describeDecision, type IntentReport } from "../components/provisioning";
import { usePoll } from "../components/usePoll";

/** Runs `action`, then `done`; keeps the failure to show it. */
function useAction(done: () => void) {
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);
  const run = async (action: () => Promise<unknown>) => {
    setError(undefined);
    setBusy(true);
    try {
      await action();
      done();
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };
  return { error, busy, run };
}

export function ChecklistPanel({ environmentId, isAdmin }: { environmentId: string; isAdmin: boolean }) {
  const path = { params: { path: { environment_id: environmentId } } };
  const checklist = usePoll(() => ok(api.client.GET("/v1/environments/{environment_id}/checklist", path)), 3000, [environmentId]);
  const action = useAction(checklist.reload);
  const data = checklist.data;
  const counts = checklistCounts(data?.checks ?? []);
  return (
    <section data-testid="checklist" aria-labelledby="checklist-title">
      <Group justify="space-between" mt="lg" mb="xs">
        <Title order={2} size="h4" id="checklist-title">
          Provisioning checklist
        </Title>
        {isAdmin && (
          <Button
            size="xs"
            variant="default"
            loading={action.busy}
            onClick={() => void action.run(() => ok(api.client.POST("/v1/environments/{environment_id}/checklist", path)))}
          >
            Run checks
          </Button>
        )}
      </Group>
      <Problem error={action.error ?? checklist.error} />
      {!data ? (
        !checklist.error && <Loading what="the checklist" />
      ) : (
        <>
          <Text size="sm" mb="xs" data-testid="checklist-summary">
            {data.state === "running" ? "Checks running" : "Checked"} {ago(data.updated_at)}: {counts.ok} ok, {counts.failed} failed,{" "}
            {counts.pending} pending.
          </Text>
          <Table>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Check</Table.Th>
                <Table.Th>Status</Table.Th>
                <Table.Th>Message</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {data.checks.map((check) => (
                <Table.Tr key={check.name} data-testid={`check-${check.name}`}>
                  <Table.Td>{check.name}</Table.Td>
                  <Table.Td>
                    <StatusBadge state={check.status} />
                  </Table.Td>
                  <Table.Td>
                    {check.message}
                    {check.aws_code && <Text span c="dimmed" size="sm">{` (AWS ${check.aws_code})`}</Text>}
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </>
      )}
    </section>
  );
}

export function NetworkPanel({ environmentId, isAdmin }: { environmentId: string; isAdmin: boolean }) {
  const path = { params: { path: { environment_id: environmentId } } };
  const network = usePoll(() => ok(api.client.GET("/v1/environments/{environment_id}/network", path)), 3000, [environmentId]);
  const action = useAction(network.reload);
  // No network settings yet is a state (`unconfigured`), not an error.
  const data = network.data;
  const unset = data?.state === "unconfigured" || !data?.settings;
  return (
    <section data-testid="network" aria-labelledby="network-title">
      <Group justify="space-between" mt="lg" mb="xs">
        <Title order={2} size="h4" id="network-title">
          Network
        </Title>
        {isAdmin && data && !unset && data.state !== "provisioning" && (
          <Button
            size="xs"
            variant="default"
            loading={action.busy}
            onClick={() => void action.run(() => ok(api.client.POST("/v1/environments/{environment_id}/network/provision", path)))}
          >
            {data.state === "ready" ? "Provision again" : "Provision network"}
          </Button>
        )}
      </Group>
      <Problem error={action.error ?? network.error} />
      {data && unset ? (
        <Text c="dimmed" data-testid="network-unset">
          No network settings yet: they are set through the API (PUT /v1/environments/{environmentId}/network, or Terraform).
        </Text>
      ) : !data?.settings ? (
        !network.error && <Loading what="the network" />
      ) : (
        <Card withBorder>
          <Group>
            <StatusBadge state={data.state} testId="network-state" />
            <Text size="sm">
              {data.settings.vpc_id ? `adopt ${data.settings.vpc_id}` : `new VPC ${data.settings.vpc_cidr ?? "10.64.0.0/16"}`}, {data.settings.zone_count}{" "}
              zones, {data.settings.broker_count} brokers planned
            </Text>
          </Group>
          {data.message && (
            <Text c="red.9" size="sm" mt="xs">
              {data.message}
            </Text>
          )}
          {data.resources && (
            <Text size="sm" mt="xs">
              VPC <Code>{data.resources.vpc_id}</Code> ({data.resources.vpc_ownership}, {data.resources.vpc_cidr}), security group{" "}
              <Code>{data.resources.security_group_id}</Code>, subnets{" "}
              {data.resources.subnets.map((subnet) => `${subnet.subnet_id} (${subnet.zone})`).join(", ")}
            </Text>
          )}
          {data.steps.length > 0 && (
            <Table mt="xs" data-testid="network-steps">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Step</Table.Th>
                  <Table.Th>Outcome</Table.Th>
                  <Table.Th>What happened</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {data.steps.map((step, index) => (
                  <Table.Tr key={index} data-testid={`step-${step.step}`}>
                    <Table.Td>{step.step}</Table.Td>
                    <Table.Td>
                      <StatusBadge state={step.outcome} />
                    </Table.Td>
                    <Table.Td>
                      {step.message}
                      {step.aws_code ? ` (AWS ${step.aws_code})` : ""}
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          )}
        </Card>
      )}
    </section>
  );
}

export function IntentDecisionPanel({ report }: { report: IntentReport | null | undefined }) {
  return (
    <section data-testid="intent-decision" aria-labelledby="intent-title">
      <Title order={2} size="h4" mt="lg" mb="xs" id="intent-title">
        The agent's latest decision
      </Title>
      {!report ? (
        <Text c="dimmed">The agent has not reported a decision on any intent yet.</Text>
      ) : (
        <DecisionCard report={report} />
      )}
    </section>
  );
}

function DecisionCard({ report }: { report: IntentReport }) {
  const decision = describeDecision(report);
  return (
    <Card withBorder>
      <Group>
        <StatusBadge state={report.outcome} testId="intent-outcome" />
        <Text>{decision.headline}</Text>
        <Text size="sm" c="dimmed">
          {ago(report.reported_at)}
        </Text>
      </Group>
      {report.message && (
        <Text size="sm" mt="xs">
          {report.message}
        </Text>
      )}
      {decision.approval && (
        <>
          <Text size="sm" mt="xs">
            To approve, someone with access to the customer's cluster runs:
          </Text>
          <Code block data-testid="approval-command">
            {decision.approval}
          </Code>
        </>
      )}
    </Card>
  );
}
