// The organization at a glance: environments with their agent, clusters
// with their health; creating an environment.

import { Anchor, Button, Card, Group, Modal, Select, SimpleGrid, Stack, Table, Text, TextInput, Title } from "@mantine/core";
import { useState, type FormEvent } from "react";
import { Link } from "react-router";
import { api, ok, type Cluster, type Environment } from "../api/client";
import { useSession } from "../api/session";
import { PageTitle } from "../components/Layout";
import { FormError, Polled, Problem } from "../components/States";
import { StatusBadge, health } from "../components/StatusBadge";
import { brokersReady } from "../components/Brokers";
import { ago, useSubmit } from "../components/forms";
import { usePoll } from "../components/usePoll";

const POLL_MS = 3000;

export function OverviewPage() {
  const { isAdmin } = useSession();
  const [creating, setCreating] = useState(false);
  const [token, setToken] = useState<string | null>(null);
  const environments = usePoll(
    async () => (await ok(api.client.GET("/v1/environments", { params: { query: { limit: 200 } } }))).items,
    POLL_MS,
    [],
  );
  const clusters = usePoll(
    async () => (await ok(api.client.GET("/v1/clusters", { params: { query: { limit: 200 } } }))).items,
    POLL_MS,
    [],
  );
  const byEnvironment = new Map<string, Cluster[]>();
  for (const cluster of clusters.data ?? []) {
    byEnvironment.set(cluster.environment_id, [...(byEnvironment.get(cluster.environment_id) ?? []), cluster]);
  }
  const count = (state: "good" | "bad" | "pending") =>
    (clusters.data ?? []).filter((cluster) => health(cluster.status.phase) === state).length;

  return (
    <>
      <PageTitle
        actions={
          isAdmin && (
            <Group>
              <Button onClick={() => setCreating(true)}>New environment</Button>
              <Button variant="default" component={Link} to="/clusters/new">
                New cluster
              </Button>
            </Group>
          )
        }
      >
        Overview
      </PageTitle>
      <SimpleGrid cols={{ base: 1, xs: 3 }} mb="lg">
        <Summary label="Clusters healthy" value={count("good")} testId="healthy-count" />
        <Summary label="Clusters in progress" value={count("pending")} testId="pending-count" />
        <Summary label="Clusters failing" value={count("bad")} testId="failing-count" />
      </SimpleGrid>
      <Title order={2} size="h3" mb="sm">
        Environments
      </Title>
      <Problem error={clusters.error} />
      <Polled data={environments.data} error={environments.error} what="environments" empty="No environments yet. Create one to connect a Kubernetes cluster in your cloud account.">
        {(items) => (
          <Table.ScrollContainer minWidth={640}>
            <Table striped highlightOnHover>
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Environment</Table.Th>
                  <Table.Th>Region</Table.Th>
                  <Table.Th>Agent</Table.Th>
                  <Table.Th>Last seen</Table.Th>
                  <Table.Th>Clusters</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {items.map((environment: Environment) => (
                  <Table.Tr key={environment.environment_id}>
                    <Table.Td>
                      <Anchor component={Link} to={`/environments/${environment.environment_id}`}>
                        {environment.name}
                      </Anchor>
                    </Table.Td>
                    <Table.Td>{environment.region}</Table.Td>
                    <Table.Td>
                      <StatusBadge state={environment.connection.state} />
                    </Table.Td>
                    <Table.Td>{ago(environment.connection.last_seen_at)}</Table.Td>
                    <Table.Td>
                      <Group gap="xs">
                        {(byEnvironment.get(environment.environment_id) ?? []).map((cluster) => (
                          <Anchor key={cluster.cluster_id} component={Link} to={`/clusters/${cluster.cluster_id}`} size="sm">
                            {cluster.name} <StatusBadge state={cluster.status.phase} />{" "}
                            <Text span size="xs" c="dimmed" data-testid={`brokers-ready-${cluster.name}`}>
                              {brokersReady(cluster)}
                            </Text>
                          </Anchor>
                        ))}
                        {(byEnvironment.get(environment.environment_id) ?? []).length === 0 && (
                          <Text size="sm" c="dimmed">
                            none
                          </Text>
                        )}
                      </Group>
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        )}
      </Polled>
      <Modal opened={creating} onClose={() => setCreating(false)} title="New environment">
        <CreateEnvironment
          onCreated={(registrationToken) => {
            setCreating(false);
            setToken(registrationToken);
            environments.reload();
          }}
        />
      </Modal>
      <Modal opened={token !== null} onClose={() => setToken(null)} title="Environment created">
        <Stack>
          <Text>Install the agent in your Kubernetes cluster with this one-time registration token. It is shown only now.</Text>
          <TextInput label="Registration token" readOnly value={token ?? ""} data-testid="registration-token" />
          <Button onClick={() => setToken(null)}>Done</Button>
        </Stack>
      </Modal>
    </>
  );
}

function Summary({ label, value, testId }: { label: string; value: number; testId: string }) {
  return (
    <Card withBorder>
      <Text size="sm" c="dimmed">
        {label}
      </Text>
      <Text fw={700} size="xl" data-testid={testId}>
        {value}
      </Text>
    </Card>
  );
}

function CreateEnvironment({ onCreated }: { onCreated: (registrationToken: string) => void }) {
  const [name, setName] = useState("");
  const [region, setRegion] = useState("eu-west-1");
  const [account, setAccount] = useState<string | null>(null);
  const accounts = usePoll(
    async () => (await ok(api.client.GET("/v1/cloud-accounts", { params: { query: { limit: 200 } } }))).items,
    0,
    [],
  );
  const form = useSubmit(["name", "region", "cloud_account_id"]);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    void form.run(async () => {
      const created = await ok(
        api.client.POST("/v1/environments", { body: { name, region, cloud_account_id: account ?? "" } }),
      );
      onCreated(created.registration_token);
    });
  };
  return (
    <form onSubmit={submit}>
      <Stack>
        <FormError message={form.errors.form} />
        <TextInput label="Name" description="Lowercase letters, digits and '-'" required value={name} onChange={(e) => setName(e.currentTarget.value)} error={form.field("name")} />
        <Select
          label="Cloud account"
          required
          data={(accounts.data ?? []).map((a) => ({ value: a.cloud_account_id, label: `${a.name} (${a.aws_account_id})` }))}
          value={account}
          onChange={setAccount}
          error={form.field("cloud_account_id")}
          nothingFoundMessage="Add a cloud account first"
        />
        <TextInput label="Region" required value={region} onChange={(e) => setRegion(e.currentTarget.value)} error={form.field("region")} />
        <Button type="submit" loading={form.busy}>
          Create environment
        </Button>
      </Stack>
    </form>
  );
}
