// Each broker of a cluster as its agent last reported it, the bootstrap
// address with a copy button, and "N/M brokers ready" for lists.

import { Badge, Button, Code, CopyButton, Group, Table, Text } from "@mantine/core";
import type { BrokerStatus, Cluster } from "../api/client";
import { Empty } from "./States";

const STATE_COLORS: Record<string, string> = {
  serving: "teal.9",
  maintenance: "grape.9",
  starting: "blue.9",
  restarting: "blue.9",
  pending: "gray.7",
  decommissioning: "gray.7",
  failed: "red.9",
};

/** "2/3 brokers ready": ready as reported, out of the brokers asked for. */
export function brokersReady(cluster: Pick<Cluster, "broker_count" | "status">): string {
  const ready = cluster.status.brokers_ready ?? (cluster.status.brokers ?? []).filter((broker) => broker.ready).length;
  return `${ready}/${cluster.broker_count} brokers ready`;
}

/** Brokers by id; a report's order is not something to show. */
export function sortedBrokers(brokers: readonly BrokerStatus[]): BrokerStatus[] {
  return [...brokers].sort((a, b) => a.broker_id - b.broker_id);
}

export function BrokersTable({ brokers, reported }: { brokers: readonly BrokerStatus[]; reported: boolean }) {
  if (brokers.length === 0) {
    return <Empty>{reported ? "The agent reports no brokers for this cluster yet." : "No brokers yet: the agent has not reported this cluster."}</Empty>;
  }
  return (
    <Table.ScrollContainer minWidth={480}>
      <Table striped data-testid="brokers">
        <Table.Thead>
          <Table.Tr>
            <Table.Th scope="col">Broker</Table.Th>
            <Table.Th scope="col">Version</Table.Th>
            <Table.Th scope="col">State</Table.Th>
            <Table.Th scope="col">Ready</Table.Th>
            <Table.Th scope="col">Rack</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {sortedBrokers(brokers).map((broker) => (
            <Table.Tr key={broker.broker_id} data-testid={`broker-${broker.broker_id}`}>
              <Table.Td>{broker.broker_id}</Table.Td>
              <Table.Td>{broker.version ?? <Text span c="dimmed">unknown</Text>}</Table.Td>
              <Table.Td>
                <Badge color={STATE_COLORS[broker.state] ?? "gray.7"} variant="filled">
                  {broker.state}
                </Badge>
              </Table.Td>
              <Table.Td>{broker.ready ? "yes" : "no"}</Table.Td>
              <Table.Td>{broker.rack ?? <Text span c="dimmed">none</Text>}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}

export function BootstrapAddress({ address }: { address: string | null | undefined }) {
  if (!address) {
    return (
      <Text c="dimmed" data-testid="bootstrap-address-missing">
        not reported yet
      </Text>
    );
  }
  return (
    <Group gap="xs" wrap="nowrap" align="center">
      <Code data-testid="bootstrap-address" style={{ wordBreak: "break-all" }}>
        {address}
      </Code>
      <CopyButton value={address} timeout={2000}>
        {({ copied, copy }) => (
          <Button size="compact-xs" variant="default" onClick={copy} data-testid="copy-bootstrap">
            {copied ? "Copied" : "Copy address"}
          </Button>
        )}
      </CopyButton>
    </Group>
  );
}
