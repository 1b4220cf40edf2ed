// Loading, empty and error states, the same on every page.

import { Alert, Center, Loader, Text } from "@mantine/core";
import type { ReactNode } from "react";
import { plainWords } from "../api/problem";

export function Loading({ what }: { what: string }) {
  return (
    <Center py="lg" role="status" aria-live="polite">
      <Loader size="sm" aria-hidden="true" />
      <Text ml="sm" c="dimmed">
        Loading {what}…
      </Text>
    </Center>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return (
    <Text c="dimmed" py="md" data-testid="empty">
      {children}
    </Text>
  );
}

export function Problem({ error }: { error: unknown }) {
  if (!error) return null;
  return (
    <Alert color="red.9" title="Problem" role="alert" my="sm">
      {plainWords(error)}
    </Alert>
  );
}

/** Renders loading / error / empty / content for one polled list. */
export function Polled<T>({
  data,
  error,
  what,
  empty,
  children,
}: {
  data: T[] | undefined;
  error: unknown;
  what: string;
  empty: ReactNode;
  children: (items: T[]) => ReactNode;
}) {
  if (data === undefined) return error ? <Problem error={error} /> : <Loading what={what} />;
  return (
    <>
      <Problem error={error} />
      {data.length === 0 ? <Empty>{empty}</Empty> : children(data)}
    </>
  );
}

/** A form-level message, already in plain words. */
export function FormError({ message }: { message?: string }) {
  if (!message) return null;
  return (
    <Alert color="red.9" role="alert">
      {message}
    </Alert>
  );
}
