// One cluster: version, brokers, conditions, rollout progress, bootstrap
// address, metric charts, and its topics.

import { Badge, Card, Group, Progress, SimpleGrid, Table, Text, Title } from "@mantine/core";
import { useParams } from "react-router";
import { api, ok, type Cluster } from "../api/client";
import { PageTitle } from "../components/Layout";
import { MetricChart } from "../components/MetricChart";
import { historySamples } from "../components/provisioning";
import { Loading, Problem } from "../components/States";
import { StatusBadge } from "../components/StatusBadge";
import { ago } from "../components/forms";
import { usePoll } from "../components/usePoll";
import { BootstrapAddress, BrokersTable } from "../components/Brokers";
import { Topics } from "./Topics";

/** How many of the newest status reports the charts show. */
const HISTORY = 360;

export function ClusterPage() {
  const { clusterId = "" } = useParams();
  const cluster = usePoll(
    () => ok(api.client.GET("/v1/clusters/{cluster_id}", { params: { path: { cluster_id: clusterId } } })),
    2000,
    [clusterId],
  );
  const rollouts = usePoll(async () => (await ok(api.client.GET("/v1/rollouts", { params: { query: { limit: 200 } } }))).items, 3000, []);
  // The newest reports, kept by the control plane: charts have history on
  // the first load, not only what arrived while the page was open.
  const history = usePoll(
    async () =>
      historySamples(
        (await ok(api.client.GET("/v1/clusters/{cluster_id}/status-history", { params: { path: { cluster_id: clusterId }, query: { limit: HISTORY } } })))
          .items,
      ),
    5000,
    [clusterId],
  );
  const samples = history.data ?? [];

  if (!cluster.data) return cluster.error ? <Problem error={cluster.error} /> : <Loading what="the cluster" />;
  const c: Cluster = cluster.data;
  const active = (rollouts.data ?? []).filter(
    (rollout) => rollout.clusters.some((entry) => entry.cluster_id === c.cluster_id) && !["completed", "succeeded", "cancelled"].includes(rollout.state),
  );
  return (
    <>
      <PageTitle actions={<StatusBadge state={c.status.phase} testId="cluster-phase" />}>Cluster {c.name}</PageTitle>
      <Problem error={cluster.error} />
      <SimpleGrid cols={{ base: 1, sm: 2, lg: 4 }} mb="lg">
        <Card withBorder>
          <Text size="sm" c="dimmed">
            Version
          </Text>
          <Text data-testid="cluster-version">
            {c.version}
            {c.status.observed_version && c.status.observed_version !== c.version ? ` (running ${c.status.observed_version})` : ""}
          </Text>
        </Card>
        <Card withBorder>
          <Text size="sm" c="dimmed">
            Brokers ready
          </Text>
          <Text data-testid="brokers-ready">
            {c.status.brokers_ready ?? 0} of {c.broker_count}
          </Text>
          <Progress value={c.broker_count ? (100 * (c.status.brokers_ready ?? 0)) / c.broker_count : 0} aria-label="Brokers ready" mt="xs" />
        </Card>
        <Card withBorder>
          <Text size="sm" c="dimmed">
            Bootstrap address
          </Text>
          <BootstrapAddress address={c.status.bootstrap_address} />
        </Card>
        <Card withBorder>
          <Text size="sm" c="dimmed">
            Last report
          </Text>
          <Text>{ago(c.status.reported_at)}</Text>
          <Text size="sm">{c.storage_gib} GiB per broker</Text>
        </Card>
      </SimpleGrid>

      <Title order={2} size="h4" mb="xs">
        Brokers
      </Title>
      <BrokersTable brokers={c.status.brokers ?? []} reported={Boolean(c.status.reported_at)} />

      {c.status.conditions.length > 0 && (
        <>
          <Title order={2} size="h4" mb="xs">
            Conditions
          </Title>
          <Table mb="lg">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Type</Table.Th>
                <Table.Th>Status</Table.Th>
                <Table.Th>Reason</Table.Th>
                <Table.Th>Message</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {c.status.conditions.map((condition) => (
                <Table.Tr key={condition.type}>
                  <Table.Td>{condition.type}</Table.Td>
                  <Table.Td>{condition.status}</Table.Td>
                  <Table.Td>{condition.reason}</Table.Td>
                  <Table.Td>{condition.message}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </>
      )}

      {active.map((rollout) => {
        const entries = rollout.clusters;
        const done = entries.filter((entry) => ["succeeded", "completed", "done"].includes(entry.state)).length;
        const mine = entries.find((entry) => entry.cluster_id === c.cluster_id);
        return (
          <Card withBorder mb="lg" key={rollout.rollout_id} data-testid="cluster-rollout">
            <Group justify="space-between">
              <Text>
                Rollout to {rollout.target_version}: this cluster is in wave {(mine?.wave ?? 0) + 1}, {mine?.state}
              </Text>
              <Badge variant="light">{rollout.state}</Badge>
            </Group>
            <Progress value={entries.length ? (100 * done) / entries.length : 0} mt="xs" aria-label="Rollout progress" />
          </Card>
        );
      })}

      <Title order={2} size="h4" mb="xs">
        Throughput, consumer lag and brokers over time
      </Title>
      <Problem error={history.error} />
      <SimpleGrid cols={{ base: 1, lg: 3 }} mb="lg" data-testid="history" data-samples={samples.length}>
        <MetricChart title="Throughput" samples={samples} pattern={/bytes|messages|records|throughput/i} unit="per second" />
        <MetricChart title="Consumer lag" samples={samples} pattern={/lag/i} unit="messages" />
        <MetricChart title="Brokers ready" samples={samples} pattern={/^brokers_ready$/} unit="brokers" />
      </SimpleGrid>

      <Topics cluster={c} />
    </>
  );
}
