// The typed client of the public REST API, generated from /openapi.json at
// build time (src/api/schema.d.ts): a changed API breaks this build.

import createClient, { type Middleware } from "openapi-fetch";
import type { components, paths } from "./schema";
import { ApiProblem } from "./problem";

export type { paths };
export type Schemas = components["schemas"];
export type Cluster = Schemas["Cluster"];
export type BrokerStatus = Schemas["BrokerStatus"];
export type Environment = Schemas["Environment"];
export type Topic = Schemas["Topic"];
export type Rollout = Schemas["Rollout"];
export type Release = Schemas["Release"];
export type AuditRecord = Schemas["AuditRecord"];
export type ApiKey = Schemas["ApiKey"];
export type CloudAccount = Schemas["CloudAccount"];
export type User = Schemas["User"];
export type Session = Schemas["Session"];
export type Role = Schemas["Role"];

export type Api = ReturnType<typeof createApi>;

/**
 * A client for `baseUrl` (empty: this page's origin). Changes carry the
 * session's CSRF token once `setCsrfToken` was called.
 */
export function createApi(baseUrl = "", fetchImpl?: typeof fetch) {
  let csrfToken = "";
  const csrf: Middleware = {
    onRequest({ request }) {
      if (request.method !== "GET" && csrfToken) request.headers.set("X-CSRF-Token", csrfToken);
      return request;
    },
  };
  const client = createClient<paths>({
    baseUrl: baseUrl || (typeof window !== "undefined" ? window.location.origin : ""),
    credentials: "same-origin",
    ...(fetchImpl ? { fetch: fetchImpl } : {}),
  });
  client.use(csrf);
  return {
    client,
    setCsrfToken(token: string) {
      csrfToken = token;
    },
  };
}

interface Answer<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/** The data of a successful answer; throws an `ApiProblem` otherwise. */
export async function ok<T>(pending: Promise<Answer<T>>): Promise<T> {
  let answer: Answer<T>;
  try {
    answer = await pending;
  } catch (error) {
    throw new ApiProblem(0, "network", "Network error", error instanceof Error ? error.message : "");
  }
  if (!answer.response.ok) throw ApiProblem.from(answer.response.status, answer.error);
  return answer.data as T;
}

/** The app's one client. */
export const api = createApi();
