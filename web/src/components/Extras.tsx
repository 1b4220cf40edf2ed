// Renders lists the API may add to an object (a provisioning checklist,
// pending approvals, refused intents) when they are present, and nothing
// when they are not, so the console keeps working across API versions.

import { List, Text, Title } from "@mantine/core";
import { StatusBadge } from "./StatusBadge";

type Item = Record<string, unknown>;

function label(item: unknown): { text: string; state?: string; note?: string } {
  if (typeof item !== "object" || item === null) return { text: String(item) };
  const record = item as Item;
  const pick = (...keys: string[]) => keys.map((key) => record[key]).find((value) => typeof value === "string") as string | undefined;
  return {
    text: pick("title", "name", "step", "kind", "description", "reason") ?? JSON.stringify(record),
    state: pick("state", "status", "phase"),
    note: pick("message", "detail", "reason"),
  };
}

export function OptionalList({ title, value, testId }: { title: string; value: unknown; testId: string }) {
  if (!Array.isArray(value)) return null;
  return (
    <section data-testid={testId}>
      <Title order={2} size="h4" mt="lg" mb="xs">
        {title}
      </Title>
      {value.length === 0 ? (
        <Text c="dimmed">None.</Text>
      ) : (
        <List spacing="xs">
          {value.map((item, index) => {
            const { text, state, note } = label(item);
            return (
              <List.Item key={index}>
                {text} {state && <StatusBadge state={state} />}{" "}
                {note && note !== text && (
                  <Text span c="dimmed" size="sm">
                    {note}
                  </Text>
                )}
              </List.Item>
            );
          })}
        </List>
      )}
    </section>
  );
}
