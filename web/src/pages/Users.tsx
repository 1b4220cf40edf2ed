import { Button, Modal, NativeSelect, PasswordInput, Select, Stack, Table, Text, TextInput } from "@mantine/core";
import { useState, type FormEvent } from "react";
import { api, ok, type Role, type User } from "../api/client";
import { useSession } from "../api/session";
import { PageTitle } from "../components/Layout";
import { FormError, Polled, Problem } from "../components/States";
import { when, useSubmit } from "../components/forms";
import { usePoll } from "../components/usePoll";

export function UsersPage() {
  const { isAdmin, session } = useSession();
  const [creating, setCreating] = useState(false);
  const [removing, setRemoving] = useState<User | null>(null);
  const [error, setError] = useState<unknown>(undefined);
  const users = usePoll(async () => (await ok(api.client.GET("/v1/users", { params: { query: { limit: 200 } } }))).items, 5000, []);
  const setRole = async (user: User, role: Role) => {
    setError(undefined);
    try {
      await ok(api.client.PATCH("/v1/users/{user_id}", { params: { path: { user_id: user.user_id } }, body: { role } }));
      users.reload();
    } catch (failure) {
      setError(failure);
    }
  };
  return (
    <>
      <PageTitle actions={isAdmin && <Button onClick={() => setCreating(true)}>Add user</Button>}>Users and roles</PageTitle>
      <Text c="dimmed" mb="md">
        Admins read and change everything; viewers read everything and change nothing.
      </Text>
      <Problem error={error} />
      <Polled data={users.data} error={users.error} what="users" empty="No users yet.">
        {(items) => (
          <Table striped>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Email</Table.Th>
                <Table.Th>Role</Table.Th>
                <Table.Th>Member since</Table.Th>
                {isAdmin && <Table.Th>Actions</Table.Th>}
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {items.map((user) => (
                <Table.Tr key={user.user_id} data-testid={`user-${user.email}`}>
                  <Table.Td>
                    {user.email}
                    {user.user_id === session?.user_id ? " (you)" : ""}
                  </Table.Td>
                  <Table.Td>
                    {isAdmin ? (
                      <NativeSelect
                        aria-label={`Role of ${user.email}`}
                        data={["admin", "viewer"]}
                        value={user.role}
                        onChange={(e) => void setRole(user, e.currentTarget.value === "admin" ? "admin" : "viewer")}
                      />
                    ) : (
                      user.role
                    )}
                  </Table.Td>
                  <Table.Td>{when(user.created_at)}</Table.Td>
                  {isAdmin && (
                    <Table.Td>
                      <Button size="xs" color="red.9" variant="outline" onClick={() => setRemoving(user)} aria-label={`Remove ${user.email}`}>
                        Remove
                      </Button>
                    </Table.Td>
                  )}
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
      </Polled>
      <Modal opened={creating} onClose={() => setCreating(false)} title="Add user">
        <AddUser
          onDone={() => {
            setCreating(false);
            users.reload();
          }}
        />
      </Modal>
      <Modal opened={removing !== null} onClose={() => setRemoving(null)} title="Remove user?">
        {removing && (
          <Remove
            user={removing}
            onDone={() => {
              setRemoving(null);
              users.reload();
            }}
          />
        )}
      </Modal>
    </>
  );
}

function AddUser({ onDone }: { onDone: () => void }) {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [role, setRole] = useState<string | null>("viewer");
  const form = useSubmit(["email", "password", "role"]);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    void form.run(async () => {
      await ok(api.client.POST("/v1/users", { body: { email, password, role: role === "admin" ? "admin" : "viewer" } }));
      onDone();
    });
  };
  return (
    <form onSubmit={submit}>
      <Stack>
        <FormError message={form.errors.form} />
        <TextInput label="Email" type="email" required value={email} onChange={(e) => setEmail(e.currentTarget.value)} error={form.field("email")} />
        <PasswordInput label="First password" description="At least 12 characters; share it with them privately" required value={password} onChange={(e) => setPassword(e.currentTarget.value)} error={form.field("password")} autoComplete="new-password" />
        <Select label="Role" data={["viewer", "admin"]} value={role} onChange={setRole} />
        <Button type="submit" loading={form.busy}>
          Add user
        </Button>
      </Stack>
    </form>
  );
}

function Remove({ user, onDone }: { user: User; onDone: () => void }) {
  const form = useSubmit([]);
  return (
    <Stack>
      <Text>
        <strong>{user.email}</strong> loses access to this organization and is signed out.
      </Text>
      <FormError message={form.errors.form} />
      <Button
        color="red.9"
        loading={form.busy}
        onClick={() =>
          void form.run(async () => {
            await ok(api.client.DELETE("/v1/users/{user_id}", { params: { path: { user_id: user.user_id } } }));
            onDone();
          })
        }
      >
        Remove user
      </Button>
    </Stack>
  );
}
