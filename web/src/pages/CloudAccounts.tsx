import { Button, Modal, Stack, Table, TextInput } from "@mantine/core";
import { useState, type FormEvent } from "react";
import { api, ok } from "../api/client";
import { useSession } from "../api/session";
import { PageTitle } from "../components/Layout";
import { FormError, Polled } from "../components/States";
import { when, useSubmit } from "../components/forms";
import { usePoll } from "../components/usePoll";

export function CloudAccountsPage() {
  const { isAdmin } = useSession();
  const [creating, setCreating] = useState(false);
  const accounts = usePoll(async () => (await ok(api.client.GET("/v1/cloud-accounts", { params: { query: { limit: 200 } } }))).items, 10000, []);
  return (
    <>
      <PageTitle actions={isAdmin && <Button onClick={() => setCreating(true)}>New cloud account</Button>}>Cloud accounts</PageTitle>
      <Polled data={accounts.data} error={accounts.error} what="cloud accounts" empty="No cloud accounts yet. Add the AWS account Fjord may manage.">
        {(items) => (
          <Table.ScrollContainer minWidth={640}>
            <Table striped>
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Name</Table.Th>
                  <Table.Th>AWS account</Table.Th>
                  <Table.Th>Role</Table.Th>
                  <Table.Th>External id</Table.Th>
                  <Table.Th>Added</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {items.map((account) => (
                  <Table.Tr key={account.cloud_account_id}>
                    <Table.Td>{account.name}</Table.Td>
                    <Table.Td>{account.aws_account_id}</Table.Td>
                    <Table.Td>{account.role_arn}</Table.Td>
                    <Table.Td>{account.external_id}</Table.Td>
                    <Table.Td>{when(account.created_at)}</Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        )}
      </Polled>
      <Modal opened={creating} onClose={() => setCreating(false)} title="New cloud account">
        <CreateAccount
          onDone={() => {
            setCreating(false);
            accounts.reload();
          }}
        />
      </Modal>
    </>
  );
}

function CreateAccount({ onDone }: { onDone: () => void }) {
  const [name, setName] = useState("");
  const [account, setAccount] = useState("");
  const [role, setRole] = useState("");
  const form = useSubmit(["name", "aws_account_id", "role_arn"]);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    void form.run(async () => {
      await ok(api.client.POST("/v1/cloud-accounts", { body: { name, aws_account_id: account, role_arn: role } }));
      onDone();
    });
  };
  return (
    <form onSubmit={submit}>
      <Stack>
        <FormError message={form.errors.form} />
        <TextInput label="Name" required value={name} onChange={(e) => setName(e.currentTarget.value)} error={form.field("name")} />
        <TextInput label="AWS account id" description="12 digits" required value={account} onChange={(e) => setAccount(e.currentTarget.value)} error={form.field("aws_account_id")} />
        <TextInput label="Role ARN" description="arn:aws:iam::<account>:role/<name>" required value={role} onChange={(e) => setRole(e.currentTarget.value)} error={form.field("role_arn")} />
        <Button type="submit" loading={form.busy}>
          Add cloud account
        </Button>
      </Stack>
    </form>
  );
}
