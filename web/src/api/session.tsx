// Who is signed in. The session cookie is httpOnly: the console learns the
// session (and its CSRF token) from GET /v1/session.

import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { api, ok, type Session } from "./client";
import { ApiProblem } from "./problem";

interface SessionState {
  /** `undefined` while loading, `null` when signed out. */
  session: Session | null | undefined;
  signIn(email: string, password: string, organization?: string): Promise<void>;
  signOut(): Promise<void>;
  isAdmin: boolean;
}

const SessionContext = createContext<SessionState | null>(null);

export function SessionProvider({ children }: { children: ReactNode }) {
  const [session, setSession] = useState<Session | null | undefined>(undefined);

  const adopt = useCallback((next: Session | null) => {
    api.setCsrfToken(next?.csrf_token ?? "");
    setSession(next);
  }, []);

  useEffect(() => {
    ok(api.client.GET("/v1/session"))
      .then(adopt)
      .catch(() => adopt(null));
  }, [adopt]);

  const signIn = useCallback(
    async (email: string, password: string, organization?: string) => {
      const body = organization ? { email, password, organization } : { email, password };
      adopt(await ok(api.client.POST("/v1/session", { body })));
    },
    [adopt],
  );

  const signOut = useCallback(async () => {
    try {
      await ok(api.client.DELETE("/v1/session"));
    } catch (error) {
      if (!(error instanceof ApiProblem && error.status === 401)) throw error;
    }
    adopt(null);
  }, [adopt]);

  const value = useMemo(
    () => ({ session, signIn, signOut, isAdmin: session?.role === "admin" }),
    [session, signIn, signOut],
  );
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionState {
  const state = useContext(SessionContext);
  if (!state) throw new Error("useSession outside SessionProvider");
  return state;
}
