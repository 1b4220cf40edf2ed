// A small typed client for the control plane's public REST API. The console
// uses nothing but this API, so it can never do what the API cannot.

export interface ServiceInfo {
  service: string;
  version: string;
  api_version: string;
}

export interface Readiness {
  status: "ready" | "not_ready";
  checks?: Record<string, string>;
}

/** An RFC 7807 problem returned by the API. */
export class ApiProblem extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    readonly detail: string,
  ) {
    super(detail);
  }
}

async function getJson<T>(path: string, acceptStatuses: number[] = []): Promise<T> {
  const response = await fetch(path, { headers: { accept: "application/json" } });
  if (!response.ok && !acceptStatuses.includes(response.status)) {
    const problem = await response.json().catch(() => ({}));
    throw new ApiProblem(
      response.status,
      problem.type ?? "about:blank",
      problem.detail ?? `${path} answered ${response.status}`,
    );
  }
  return (await response.json()) as T;
}

export const api = {
  info: () => getJson<ServiceInfo>("/v1/info"),
  readiness: () => getJson<Readiness>("/readyz", [503]),
};
