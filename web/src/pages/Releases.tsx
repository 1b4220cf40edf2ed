import { Badge, Table } from "@mantine/core";
import { api, ok } from "../api/client";
import { PageTitle } from "../components/Layout";
import { Polled } from "../components/States";
import { when } from "../components/forms";
import { usePoll } from "../components/usePoll";

export function ReleasesPage() {
  const releases = usePoll(() => ok(api.client.GET("/v1/releases")), 30000, []);
  return (
    <>
      <PageTitle>Release catalog</PageTitle>
      <Polled data={releases.data} error={releases.error} what="releases" empty="The catalog is empty.">
        {(items) => (
          <Table striped>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Version</Table.Th>
                <Table.Th>Channel</Table.Th>
                <Table.Th>Published</Table.Th>
                <Table.Th>Notes</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {items.map((release) => (
                <Table.Tr key={release.version}>
                  <Table.Td>
                    {release.version} {release.deprecated && <Badge color="orange.9">deprecated</Badge>}
                  </Table.Td>
                  <Table.Td>{release.channel}</Table.Td>
                  <Table.Td>{when(release.published_at)}</Table.Td>
                  <Table.Td>{release.notes || "—"}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
      </Polled>
    </>
  );
}
