// One environment: is its agent connected, when was it last heard from,
// which cloud account, its provisioning checklist and network, the agent's
// latest decision on an intent (with the approval command when it waits),
// and its clusters.

import { Anchor, Button, Card, Group, SimpleGrid, Table, Text } from "@mantine/core";
import { Link, useParams } from "react-router";
import { api, ok } from "../api/client";
import { useSession } from "../api/session";
import { PageTitle } from "../components/Layout";
import { Loading, Polled, Problem } from "../components/States";
import { StatusBadge } from "../components/StatusBadge";
import { ago, when } from "../components/forms";
import { usePoll } from "../components/usePoll";
import { ChecklistPanel, IntentDecisionPanel, NetworkPanel } from "./EnvironmentProvisioning";

export function EnvironmentPage() {
  const { environmentId = "" } = useParams();
  const { isAdmin } = useSession();
  const environment = usePoll(
    () => ok(api.client.GET("/v1/environments/{environment_id}", { params: { path: { environment_id: environmentId } } })),
    3000,
    [environmentId],
  );
  const clusters = usePoll(
    async () =>
      (await ok(api.client.GET("/v1/clusters", { params: { query: { environment_id: environmentId, limit: 200 } } }))).items,
    3000,
    [environmentId],
  );
  const accountId = environment.data?.cloud_account_id;
  const account = usePoll(
    async () =>
      accountId ? ok(api.client.GET("/v1/cloud-accounts/{cloud_account_id}", { params: { path: { cloud_account_id: accountId } } })) : undefined,
    0,
    [accountId],
  );
  if (!environment.data) return environment.error ? <Problem error={environment.error} /> : <Loading what="the environment" />;
  const env = environment.data;
  return (
    <>
      <PageTitle
        actions={
          isAdmin && (
            <Button component={Link} to={`/clusters/new?environment_id=${env.environment_id}`}>
              New cluster here
            </Button>
          )
        }
      >
        Environment {env.name}
      </PageTitle>
      <Problem error={environment.error} />
      <SimpleGrid cols={{ base: 1, sm: 2, lg: 4 }} mb="lg">
        <Card withBorder>
          <Text size="sm" c="dimmed">
            Agent
          </Text>
          <StatusBadge state={env.connection.state} testId="connection-state" />
          <Text size="sm" mt="xs">
            Last seen {ago(env.connection.last_seen_at)}
          </Text>
        </Card>
        <Card withBorder>
          <Text size="sm" c="dimmed">
            Cloud account
          </Text>
          <Text>{account.data ? `${account.data.name} (${account.data.aws_account_id})` : env.cloud_account_id}</Text>
          <Text size="sm">Region {env.region}</Text>
        </Card>
        <Card withBorder>
          <Text size="sm" c="dimmed">
            Desired state
          </Text>
          <Text>
            generation {env.generation}, agent has {env.connection.observed_generation ?? "none"}
          </Text>
        </Card>
        <Card withBorder>
          <Text size="sm" c="dimmed">
            Agent version
          </Text>
          <Text>{env.connection.agent_version ?? "not registered"}</Text>
          <Text size="sm">registered {when(env.connection.registered_at)}</Text>
        </Card>
      </SimpleGrid>
      <IntentDecisionPanel report={env.connection.last_intent_report} />
      <ChecklistPanel environmentId={env.environment_id} isAdmin={isAdmin} />
      <NetworkPanel environmentId={env.environment_id} isAdmin={isAdmin} />
      <Group mt="lg" mb="xs">
        <Text fw={700} component="h2" size="lg">
          Clusters
        </Text>
      </Group>
      <Polled data={clusters.data} error={clusters.error} what="clusters" empty="No clusters in this environment yet.">
        {(items) => (
          <Table striped>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Cluster</Table.Th>
                <Table.Th>Version</Table.Th>
                <Table.Th>Brokers</Table.Th>
                <Table.Th>Phase</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {items.map((cluster) => (
                <Table.Tr key={cluster.cluster_id}>
                  <Table.Td>
                    <Anchor component={Link} to={`/clusters/${cluster.cluster_id}`}>
                      {cluster.name}
                    </Anchor>
                  </Table.Td>
                  <Table.Td>{cluster.version}</Table.Td>
                  <Table.Td>
                    {cluster.status.brokers_ready ?? 0}/{cluster.broker_count}
                  </Table.Td>
                  <Table.Td>
                    <StatusBadge state={cluster.status.phase} />
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
      </Polled>
    </>
  );
}
