// Who did what, when, from where: filter by actor, action, object and
// time; page through with the API's cursor.

import { Button, Code, Group, SimpleGrid, Table, TextInput } from "@mantine/core";
import { useState, type FormEvent } from "react";
import { api, ok, type paths } from "../api/client";

type AuditParams = NonNullable<paths["/v1/audit-records"]["get"]["parameters"]["query"]>;
import { PageTitle } from "../components/Layout";
import { Polled } from "../components/States";
import { when } from "../components/forms";
import { usePoll } from "../components/usePoll";

interface Filters {
  actor: string;
  action: string;
  object_type: string;
  object_id: string;
  since: string;
}

const NONE: Filters = { actor: "", action: "", object_type: "", object_id: "", since: "" };
const PAGE = 25;

/** The query the API takes for `filters` (blank fields left out). */
export function auditQuery(filters: Filters, cursor?: string): AuditParams {
  const text = (value: string) => value.trim() || undefined;
  const since = text(filters.since);
  return {
    limit: PAGE,
    actor: text(filters.actor),
    action: text(filters.action),
    object_type: text(filters.object_type),
    object_id: text(filters.object_id),
    since: since ? new Date(since).toISOString() : undefined,
    cursor,
  };
}

export function AuditPage() {
  const [draft, setDraft] = useState<Filters>(NONE);
  const [filters, setFilters] = useState<Filters>(NONE);
  const [cursors, setCursors] = useState<string[]>([]);
  const cursor = cursors[cursors.length - 1];
  const page = usePoll(
    () => ok(api.client.GET("/v1/audit-records", { params: { query: auditQuery(filters, cursor) } })),
    5000,
    [JSON.stringify(filters), cursor],
  );
  const apply = (event: FormEvent) => {
    event.preventDefault();
    setCursors([]);
    setFilters(draft);
  };
  const field = (key: keyof Filters, label: string, example: string, type = "text") => (
    <TextInput
      label={label}
      placeholder={example}
      type={type}
      value={draft[key]}
      onChange={(e) => setDraft({ ...draft, [key]: e.currentTarget.value })}
    />
  );
  return (
    <>
      <PageTitle>Audit log</PageTitle>
      <form onSubmit={apply} aria-label="Filter the audit log">
        <SimpleGrid cols={{ base: 1, sm: 2, lg: 5 }} mb="sm">
          {field("actor", "Actor", "user:ada@example.com")}
          {field("action", "Action", "cluster.create")}
          {field("object_type", "Object type", "cluster")}
          {field("object_id", "Object id", "a UUID")}
          {field("since", "Since", "", "datetime-local")}
        </SimpleGrid>
        <Group mb="md">
          <Button type="submit">Filter</Button>
          <Button
            variant="default"
            onClick={() => {
              setDraft(NONE);
              setFilters(NONE);
              setCursors([]);
            }}
          >
            Clear
          </Button>
        </Group>
      </form>
      <Polled data={page.data?.items} error={page.error} what="the audit log" empty="No records match.">
        {(items) => (
          <Table.ScrollContainer minWidth={720}>
            <Table striped data-testid="audit-table">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>When</Table.Th>
                  <Table.Th>Actor</Table.Th>
                  <Table.Th>Action</Table.Th>
                  <Table.Th>Object</Table.Th>
                  <Table.Th>From</Table.Th>
                  <Table.Th>Detail</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {items.map((record) => (
                  <Table.Tr key={record.audit_record_id}>
                    <Table.Td>{when(record.created_at)}</Table.Td>
                    <Table.Td>{record.actor}</Table.Td>
                    <Table.Td>{record.action}</Table.Td>
                    <Table.Td>
                      {record.object_type} <Code>{record.object_id}</Code>
                    </Table.Td>
                    <Table.Td>{record.source ?? "—"}</Table.Td>
                    <Table.Td>
                      <Code>{JSON.stringify(record.detail)}</Code>
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        )}
      </Polled>
      <Group mt="sm">
        <Button variant="default" disabled={cursors.length === 0} onClick={() => setCursors(cursors.slice(0, -1))}>
          Previous page
        </Button>
        <Button
          variant="default"
          disabled={!page.data?.next_cursor}
          onClick={() => page.data?.next_cursor && setCursors([...cursors, page.data.next_cursor])}
        >
          Next page
        </Button>
      </Group>
    </>
  );
}
