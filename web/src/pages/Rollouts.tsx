// Fleet upgrades: create one in waves, pause, resume, and watch progress.

import { Badge, Button, Card, Group, Modal, NumberInput, Progress, Select, Stack, Table, Text } from "@mantine/core";
import { useState, type FormEvent } from "react";
import { api, ok, type Rollout } from "../api/client";
import { useSession } from "../api/session";
import { PageTitle } from "../components/Layout";
import { FormError, Polled, Problem } from "../components/States";
import { when, useSubmit } from "../components/forms";
import { usePoll } from "../components/usePoll";

/** Groups clusters into waves by their wave number (1-based), dropping empty waves. */
export function toWaves(waveOf: Record<string, number>): string[][] {
  const numbers = [...new Set(Object.values(waveOf).filter((n) => n >= 1))].sort((a, b) => a - b);
  return numbers.map((n) => Object.keys(waveOf).filter((id) => waveOf[id] === n));
}

const FINISHED = ["succeeded", "completed", "done", "skipped"];

export function RolloutsPage() {
  const { isAdmin } = useSession();
  const [creating, setCreating] = useState(false);
  const [actionError, setActionError] = useState<unknown>(undefined);
  const rollouts = usePoll(async () => (await ok(api.client.GET("/v1/rollouts", { params: { query: { limit: 200 } } }))).items, 2000, []);
  const clusters = usePoll(async () => (await ok(api.client.GET("/v1/clusters", { params: { query: { limit: 200 } } }))).items, 5000, []);
  const names = new Map((clusters.data ?? []).map((c) => [c.cluster_id, c.name]));

  const act = async (rollout: Rollout, action: "pause" | "resume") => {
    setActionError(undefined);
    try {
      const params = { params: { path: { rollout_id: rollout.rollout_id } } };
      if (action === "pause") await ok(api.client.POST("/v1/rollouts/{rollout_id}/pause", params));
      else await ok(api.client.POST("/v1/rollouts/{rollout_id}/resume", params));
      rollouts.reload();
    } catch (error) {
      setActionError(error);
    }
  };

  return (
    <>
      <PageTitle actions={isAdmin && <Button onClick={() => setCreating(true)}>New rollout</Button>}>Rollouts</PageTitle>
      <Problem error={actionError} />
      <Polled data={rollouts.data} error={rollouts.error} what="rollouts" empty="No rollouts yet.">
        {(items) => (
          <Stack>
            {[...items].reverse().map((rollout) => {
              const done = rollout.clusters.filter((entry) => FINISHED.includes(entry.state)).length;
              return (
                <Card withBorder key={rollout.rollout_id} data-testid="rollout">
                  <Group justify="space-between" mb="xs">
                    <Text fw={600}>
                      To {rollout.target_version}, {rollout.max_in_flight} at a time, started {when(rollout.created_at)}
                    </Text>
                    <Group gap="xs">
                      <Badge variant="light" data-testid="rollout-state">
                        {rollout.state}
                      </Badge>
                      {isAdmin && rollout.state === "running" && (
                        <Button size="xs" variant="default" onClick={() => void act(rollout, "pause")}>
                          Pause
                        </Button>
                      )}
                      {isAdmin && rollout.state === "paused" && (
                        <Button size="xs" onClick={() => void act(rollout, "resume")}>
                          Resume
                        </Button>
                      )}
                    </Group>
                  </Group>
                  {rollout.halted_reason && <Text c="red.9">Halted: {rollout.halted_reason}</Text>}
                  <Progress value={rollout.clusters.length ? (100 * done) / rollout.clusters.length : 0} aria-label="Rollout progress" mb="xs" />
                  <Table>
                    <Table.Thead>
                      <Table.Tr>
                        <Table.Th>Wave</Table.Th>
                        <Table.Th>Cluster</Table.Th>
                        <Table.Th>State</Table.Th>
                        <Table.Th>Message</Table.Th>
                      </Table.Tr>
                    </Table.Thead>
                    <Table.Tbody>
                      {rollout.clusters.map((entry) => (
                        <Table.Tr key={entry.cluster_id}>
                          <Table.Td>{entry.wave + 1}</Table.Td>
                          <Table.Td>{names.get(entry.cluster_id) ?? entry.cluster_id}</Table.Td>
                          <Table.Td>{entry.state}</Table.Td>
                          <Table.Td>{entry.message}</Table.Td>
                        </Table.Tr>
                      ))}
                    </Table.Tbody>
                  </Table>
                </Card>
              );
            })}
          </Stack>
        )}
      </Polled>
      <Modal opened={creating} onClose={() => setCreating(false)} title="New rollout" size="lg">
        <CreateRollout
          clusters={(clusters.data ?? []).map((c) => ({ id: c.cluster_id, name: c.name, version: c.version }))}
          onDone={() => {
            setCreating(false);
            rollouts.reload();
          }}
        />
      </Modal>
    </>
  );
}

function CreateRollout({ clusters, onDone }: { clusters: { id: string; name: string; version: string }[]; onDone: () => void }) {
  const releases = usePoll(() => ok(api.client.GET("/v1/releases")), 0, []);
  const [target, setTarget] = useState<string | null>(null);
  const [inFlight, setInFlight] = useState<number | string>(1);
  const [waveOf, setWaveOf] = useState<Record<string, number>>(() => Object.fromEntries(clusters.map((c) => [c.id, 1])));
  const form = useSubmit(["target_version", "waves", "max_in_flight"]);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    void form.run(async () => {
      await ok(
        api.client.POST("/v1/rollouts", {
          body: { target_version: target ?? "", waves: toWaves(waveOf), max_in_flight: Number(inFlight) },
        }),
      );
      onDone();
    });
  };
  return (
    <form onSubmit={submit}>
      <Stack>
        <FormError message={form.errors.form} />
        <Select
          label="Target version"
          required
          data={(releases.data ?? []).map((r) => ({ value: r.version, label: `${r.version} (${r.channel})` }))}
          value={target}
          onChange={setTarget}
          error={form.field("target_version")}
        />
        <NumberInput label="Clusters upgraded at a time" required value={inFlight} onChange={setInFlight} error={form.field("max_in_flight")} />
        <Text size="sm" fw={500}>
          Waves: each cluster's wave number (0 leaves it out)
        </Text>
        {form.field("waves") && <Text c="red.9" size="sm">{form.field("waves")}</Text>}
        {clusters.map((cluster) => (
          <NumberInput
            key={cluster.id}
            label={`Wave of ${cluster.name} (now ${cluster.version})`}
            value={waveOf[cluster.id] ?? 0}
            onChange={(value) => setWaveOf({ ...waveOf, [cluster.id]: Number(value) || 0 })}
          />
        ))}
        <Button type="submit" loading={form.busy}>
          Start rollout
        </Button>
      </Stack>
    </form>
  );
}
