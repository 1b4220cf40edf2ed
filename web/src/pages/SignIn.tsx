import { Alert, Button, Center, Paper, PasswordInput, Stack, TextInput, Title } from "@mantine/core";
import { useState, type FormEvent } from "react";
import { Navigate, useNavigate, useSearchParams } from "react-router";
import { ApiProblem, plainWords } from "../api/problem";
import { useSession } from "../api/session";

export function SignInPage() {
  const { session, signIn } = useSession();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [organization, setOrganization] = useState("");
  const [askOrganization, setAskOrganization] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);
  const next = params.get("next");
  const target = next && next.startsWith("/") && !next.startsWith("//") ? next : "/";

  if (session) return <Navigate to={target} replace />;

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await signIn(email, password, organization || undefined);
      navigate(target, { replace: true });
    } catch (failure) {
      if (failure instanceof ApiProblem && failure.status === 422 && failure.detail.startsWith("organization")) {
        setAskOrganization(true);
      }
      setError(failure);
    } finally {
      setBusy(false);
    }
  };

  return (
    <main>
      <Center mih="100vh" p="md">
        <Paper withBorder shadow="sm" p="xl" w="100%" maw={420}>
          <form onSubmit={submit} aria-labelledby="sign-in-title">
            <Stack>
              <Title order={1} size="h2" id="sign-in-title">
                Sign in to Fjord
              </Title>
              {error !== undefined && (
                <Alert color="red.9" role="alert" title="Not signed in">
                  {error instanceof ApiProblem && error.status === 401 ? "Wrong email or password." : plainWords(error)}
                </Alert>
              )}
              <TextInput
                label="Email"
                type="email"
                autoComplete="username"
                required
                value={email}
                onChange={(event) => setEmail(event.currentTarget.value)}
              />
              <PasswordInput
                label="Password"
                autoComplete="current-password"
                required
                value={password}
                onChange={(event) => setPassword(event.currentTarget.value)}
              />
              {askOrganization && (
                <TextInput
                  label="Organization"
                  description="You belong to several organizations; name the one to open."
                  value={organization}
                  onChange={(event) => setOrganization(event.currentTarget.value)}
                />
              )}
              <Button type="submit" loading={busy}>
                Sign in
              </Button>
            </Stack>
          </form>
        </Paper>
      </Center>
    </main>
  );
}
