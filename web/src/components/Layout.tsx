// The frame of every signed-in page: header with who is signed in, a
// navigation bar (a drawer on narrow screens), and the page.

import { AppShell, Badge, Burger, Button, Group, NavLink, Text, Title } from "@mantine/core";
import { useDisclosure } from "@mantine/hooks";
import type { ReactNode } from "react";
import { Link, useLocation, useNavigate } from "react-router";
import { useSession } from "../api/session";

const LINKS = [
  { to: "/", label: "Overview" },
  { to: "/cloud-accounts", label: "Cloud accounts" },
  { to: "/rollouts", label: "Rollouts" },
  { to: "/releases", label: "Releases" },
  { to: "/api-keys", label: "API keys" },
  { to: "/users", label: "Users and roles" },
  { to: "/audit", label: "Audit log" },
];

export function Layout({ children }: { children: ReactNode }) {
  const [opened, { toggle, close }] = useDisclosure();
  const { session, signOut } = useSession();
  const location = useLocation();
  const navigate = useNavigate();
  const active = (to: string) => (to === "/" ? location.pathname === "/" : location.pathname.startsWith(to));
  return (
    <AppShell
      header={{ height: 56 }}
      navbar={{ width: 220, breakpoint: "sm", collapsed: { mobile: !opened } }}
      padding="md"
    >
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between" wrap="nowrap">
          <Group gap="sm" wrap="nowrap">
            <Burger opened={opened} onClick={toggle} hiddenFrom="sm" size="sm" aria-label="Toggle navigation" />
            <Text fw={700} size="lg" component="span">
              Fjord
            </Text>
            <Text c="dimmed" size="sm" visibleFrom="xs" component="span" data-testid="organization">
              {session?.organization_name}
            </Text>
          </Group>
          <Group gap="sm" wrap="nowrap">
            <Text size="sm" visibleFrom="sm" component="span" data-testid="signed-in-as">
              {session?.email}
            </Text>
            <Badge variant="light" color={session?.role === "admin" ? "indigo" : "gray"} data-testid="role">
              {session?.role}
            </Badge>
            <Button
              variant="default"
              size="xs"
              onClick={async () => {
                await signOut();
                navigate("/sign-in");
              }}
            >
              Sign out
            </Button>
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs" aria-label="Main">
        {LINKS.map((link) => (
          <NavLink
            key={link.to}
            component={Link}
            to={link.to}
            label={link.label}
            active={active(link.to)}
            onClick={close}
          />
        ))}
      </AppShell.Navbar>
      <AppShell.Main>
        <div style={{ maxWidth: 1400 }}>{children}</div>
      </AppShell.Main>
    </AppShell>
  );
}

export function PageTitle({ children, actions }: { children: ReactNode; actions?: ReactNode }) {
  return (
    <Group justify="space-between" mb="md" wrap="wrap">
      <Title order={1} size="h2">
        {children}
      </Title>
      {actions}
    </Group>
  );
}
