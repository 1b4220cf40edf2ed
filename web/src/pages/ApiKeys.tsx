import { Button, Modal, Select, Stack, Table, Text, TextInput } from "@mantine/core";
import { useState, type FormEvent } from "react";
import { api, ok, type ApiKey } from "../api/client";
import { useSession } from "../api/session";
import { PageTitle } from "../components/Layout";
import { FormError, Polled } from "../components/States";
import { ago, when, useSubmit } from "../components/forms";
import { usePoll } from "../components/usePoll";

export function ApiKeysPage() {
  const { isAdmin } = useSession();
  const [creating, setCreating] = useState(false);
  const [secret, setSecret] = useState<string | null>(null);
  const [revoking, setRevoking] = useState<ApiKey | null>(null);
  const keys = usePoll(async () => (await ok(api.client.GET("/v1/api-keys", { params: { query: { limit: 200 } } }))).items, 5000, []);
  return (
    <>
      <PageTitle actions={isAdmin && <Button onClick={() => setCreating(true)}>New API key</Button>}>API keys</PageTitle>
      <Polled data={keys.data} error={keys.error} what="API keys" empty="No API keys.">
        {(items) => (
          <Table.ScrollContainer minWidth={560}>
            <Table striped>
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Name</Table.Th>
                  <Table.Th>Scope</Table.Th>
                  <Table.Th>Created</Table.Th>
                  <Table.Th>Last used</Table.Th>
                  <Table.Th>State</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {items.map((key) => (
                  <Table.Tr key={key.api_key_id}>
                    <Table.Td>{key.name}</Table.Td>
                    <Table.Td>{key.scope}</Table.Td>
                    <Table.Td>{when(key.created_at)}</Table.Td>
                    <Table.Td>{ago(key.last_used_at)}</Table.Td>
                    <Table.Td>
                      {key.revoked_at ? (
                        `revoked ${when(key.revoked_at)}`
                      ) : isAdmin ? (
                        <Button size="xs" color="red.9" variant="outline" onClick={() => setRevoking(key)} aria-label={`Revoke ${key.name}`}>
                          Revoke
                        </Button>
                      ) : (
                        "active"
                      )}
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        )}
      </Polled>
      <Modal opened={creating} onClose={() => setCreating(false)} title="New API key">
        <CreateKey
          onCreated={(value) => {
            setCreating(false);
            setSecret(value);
            keys.reload();
          }}
        />
      </Modal>
      <Modal opened={secret !== null} onClose={() => setSecret(null)} title="Copy your new key now">
        <Stack>
          <Text>This secret is shown only once. Store it where your automation reads it.</Text>
          <TextInput label="Secret" readOnly value={secret ?? ""} data-testid="new-key-secret" />
          <Button onClick={() => setSecret(null)}>I stored it</Button>
        </Stack>
      </Modal>
      <Modal opened={revoking !== null} onClose={() => setRevoking(null)} title="Revoke API key?">
        {revoking && (
          <Revoke
            apiKey={revoking}
            onDone={() => {
              setRevoking(null);
              keys.reload();
            }}
          />
        )}
      </Modal>
    </>
  );
}

function CreateKey({ onCreated }: { onCreated: (secret: string) => void }) {
  const [name, setName] = useState("");
  const [scope, setScope] = useState<string | null>("read-only");
  const form = useSubmit(["name", "scope"]);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    void form.run(async () => {
      const created = await ok(api.client.POST("/v1/api-keys", { body: { name, scope: scope === "admin" ? "admin" : "read-only" } }));
      onCreated(created.secret);
    });
  };
  return (
    <form onSubmit={submit}>
      <Stack>
        <FormError message={form.errors.form} />
        <TextInput label="Name" required value={name} onChange={(e) => setName(e.currentTarget.value)} error={form.field("name")} />
        <Select
          label="Scope"
          data={[
            { value: "read-only", label: "read-only: reads everything" },
            { value: "admin", label: "admin: reads and changes everything" },
          ]}
          value={scope}
          onChange={setScope}
        />
        <Button type="submit" loading={form.busy}>
          Create key
        </Button>
      </Stack>
    </form>
  );
}

function Revoke({ apiKey, onDone }: { apiKey: ApiKey; onDone: () => void }) {
  const form = useSubmit([]);
  return (
    <Stack>
      <Text>
        Automation using <strong>{apiKey.name}</strong> stops working at once.
      </Text>
      <FormError message={form.errors.form} />
      <Button
        color="red.9"
        loading={form.busy}
        onClick={() =>
          void form.run(async () => {
            await ok(api.client.POST("/v1/api-keys/{api_key_id}/revoke", { params: { path: { api_key_id: apiKey.api_key_id } } }));
            onDone();
          })
        }
      >
        Revoke key
      </Button>
    </Stack>
  );
}
