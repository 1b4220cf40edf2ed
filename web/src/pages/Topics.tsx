// A cluster's topics: create, edit partitions and configuration, delete
// with confirmation.

import { Button, Group, Modal, NumberInput, Stack, Table, Text, Textarea, TextInput, Title } from "@mantine/core";
import { useState, type FormEvent } from "react";
import { api, ok, type Cluster, type Topic } from "../api/client";
import { useSession } from "../api/session";
import { FormError, Polled } from "../components/States";
import { useSubmit } from "../components/forms";
import { usePoll } from "../components/usePoll";

/** `key=value` lines to a config map, and back. */
export function parseConfig(text: string): Record<string, string> {
  const config: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const trimmed = line.trim();
    if (!trimmed) continue;
    const at = trimmed.indexOf("=");
    if (at < 0) config[trimmed] = "";
    else config[trimmed.slice(0, at).trim()] = trimmed.slice(at + 1).trim();
  }
  return config;
}

export function formatConfig(config: Record<string, string>): string {
  return Object.entries(config)
    .map(([key, value]) => `${key}=${value}`)
    .join("\n");
}

export function Topics({ cluster }: { cluster: Cluster }) {
  const { isAdmin } = useSession();
  const [creating, setCreating] = useState(false);
  const [editing, setEditing] = useState<Topic | null>(null);
  const [deleting, setDeleting] = useState<Topic | null>(null);
  const topics = usePoll(
    async () => (await ok(api.client.GET("/v1/topics", { params: { query: { cluster_id: cluster.cluster_id, limit: 200 } } }))).items,
    3000,
    [cluster.cluster_id],
  );
  return (
    <section>
      <Group justify="space-between" mb="xs">
        <Title order={2} size="h4">
          Topics
        </Title>
        {isAdmin && <Button onClick={() => setCreating(true)}>New topic</Button>}
      </Group>
      <Polled data={topics.data} error={topics.error} what="topics" empty="No topics yet.">
        {(items) => (
          <Table.ScrollContainer minWidth={560}>
            <Table striped>
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Topic</Table.Th>
                  <Table.Th>Partitions</Table.Th>
                  <Table.Th>Replication</Table.Th>
                  <Table.Th>Configuration</Table.Th>
                  {isAdmin && <Table.Th>Actions</Table.Th>}
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {items.map((topic) => (
                  <Table.Tr key={topic.topic_id} data-testid={`topic-${topic.name}`}>
                    <Table.Td>{topic.name}</Table.Td>
                    <Table.Td>{topic.partitions}</Table.Td>
                    <Table.Td>{topic.replication_factor}</Table.Td>
                    <Table.Td>
                      <Text size="sm" style={{ whiteSpace: "pre-line" }}>
                        {formatConfig(topic.config) || "defaults"}
                      </Text>
                    </Table.Td>
                    {isAdmin && (
                      <Table.Td>
                        <Group gap="xs" wrap="nowrap">
                          <Button size="xs" variant="default" onClick={() => setEditing(topic)} aria-label={`Edit ${topic.name}`}>
                            Edit
                          </Button>
                          <Button size="xs" color="red.9" variant="outline" onClick={() => setDeleting(topic)} aria-label={`Delete ${topic.name}`}>
                            Delete
                          </Button>
                        </Group>
                      </Table.Td>
                    )}
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        )}
      </Polled>
      <Modal opened={creating} onClose={() => setCreating(false)} title="New topic">
        <TopicForm
          cluster={cluster}
          onDone={() => {
            setCreating(false);
            topics.reload();
          }}
        />
      </Modal>
      <Modal opened={editing !== null} onClose={() => setEditing(null)} title={`Edit topic ${editing?.name ?? ""}`}>
        {editing && (
          <TopicForm
            cluster={cluster}
            topic={editing}
            onDone={() => {
              setEditing(null);
              topics.reload();
            }}
          />
        )}
      </Modal>
      <Modal opened={deleting !== null} onClose={() => setDeleting(null)} title="Delete topic?">
        {deleting && (
          <DeleteTopic
            topic={deleting}
            onDone={() => {
              setDeleting(null);
              topics.reload();
            }}
          />
        )}
      </Modal>
    </section>
  );
}

function TopicForm({ cluster, topic, onDone }: { cluster: Cluster; topic?: Topic; onDone: () => void }) {
  const [name, setName] = useState(topic?.name ?? "");
  const [partitions, setPartitions] = useState<number | string>(topic?.partitions ?? 6);
  const [replication, setReplication] = useState<number | string>(topic?.replication_factor ?? Math.min(3, cluster.broker_count));
  const [config, setConfig] = useState(formatConfig(topic?.config ?? {}));
  const form = useSubmit(["name", "partitions", "replication_factor", "config"]);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    void form.run(async () => {
      if (topic) {
        await ok(
          api.client.PATCH("/v1/topics/{topic_id}", {
            params: { path: { topic_id: topic.topic_id }, header: { "If-Match": `"${topic.revision}"` } },
            body: { partitions: Number(partitions), config: parseConfig(config) },
          }),
        );
      } else {
        await ok(
          api.client.POST("/v1/topics", {
            body: {
              cluster_id: cluster.cluster_id,
              name,
              partitions: Number(partitions),
              replication_factor: Number(replication),
              config: parseConfig(config),
            },
          }),
        );
      }
      onDone();
    });
  };
  return (
    <form onSubmit={submit}>
      <Stack>
        <FormError message={form.errors.form} />
        <TextInput label="Name" required disabled={!!topic} value={name} onChange={(e) => setName(e.currentTarget.value)} error={form.field("name")} />
        <NumberInput label="Partitions" required value={partitions} onChange={setPartitions} error={form.field("partitions")} />
        <NumberInput label="Replication factor" required disabled={!!topic} value={replication} onChange={setReplication} error={form.field("replication_factor")} />
        <Textarea label="Configuration" description="One key=value per line, e.g. retention.ms=86400000" autosize minRows={2} value={config} onChange={(e) => setConfig(e.currentTarget.value)} error={form.field("config")} />
        <Button type="submit" loading={form.busy}>
          {topic ? "Save topic" : "Create topic"}
        </Button>
      </Stack>
    </form>
  );
}

function DeleteTopic({ topic, onDone }: { topic: Topic; onDone: () => void }) {
  const [typed, setTyped] = useState("");
  const form = useSubmit([]);
  return (
    <Stack>
      <Text>
        Deleting <strong>{topic.name}</strong> removes all its messages. Type the topic's name to confirm.
      </Text>
      <FormError message={form.errors.form} />
      <TextInput label="Topic name" value={typed} onChange={(e) => setTyped(e.currentTarget.value)} />
      <Button
        color="red.9"
        disabled={typed !== topic.name}
        loading={form.busy}
        onClick={() =>
          void form.run(async () => {
            await ok(api.client.DELETE("/v1/topics/{topic_id}", { params: { path: { topic_id: topic.topic_id } } }));
            onDone();
          })
        }
      >
        Delete topic
      </Button>
    </Stack>
  );
}
