import { MantineProvider } from "@mantine/core";
import { fireEvent, render, screen } from "@testing-library/react";
import { MemoryRouter } from "react-router";
import { expect, it, vi } from "vitest";

it("signing in with a wrong password says so next to the labelled form", async () => {
  const requests: string[] = [];
  vi.stubGlobal("fetch", async (input: Request) => {
    requests.push(`${input.method} ${new URL(input.url).pathname}`);
    const problem = { type: "/problems/unauthenticated", title: "Unauthenticated", status: 401, detail: "wrong email or password" };
    return new Response(JSON.stringify(problem), { status: 401, headers: { "content-type": "application/problem+json" } });
  });
  // Imported after fetch is stubbed: the app's client is made at import.
  const { SessionProvider } = await import("../api/session");
  const { SignInPage } = await import("./SignIn");
  render(
    <MantineProvider>
      <MemoryRouter initialEntries={["/sign-in"]}>
        <SessionProvider>
          <SignInPage />
        </SessionProvider>
      </MemoryRouter>
    </MantineProvider>,
  );
  fireEvent.change(screen.getByLabelText(/^Email/), { target: { value: "ada@example.com" } });
  fireEvent.change(screen.getByLabelText(/^Password/), { target: { value: "not it" } });
  fireEvent.click(screen.getByRole("button", { name: "Sign in" }));
  expect((await screen.findByRole("alert")).textContent).toContain("Wrong email or password.");
  expect(requests).toEqual(["GET /v1/session", "POST /v1/session"]);
  vi.unstubAllGlobals();
});
