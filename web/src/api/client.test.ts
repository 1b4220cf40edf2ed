import { describe, expect, it } from "vitest";
import { createApi, ok } from "./client";
import { ApiProblem } from "./problem";

function recorder(status: number, body: unknown, contentType = "application/json") {
  const requests: Request[] = [];
  const fetchImpl = (async (input: Request) => {
    requests.push(input);
    return new Response(body === undefined ? null : JSON.stringify(body), { status, headers: { "content-type": contentType } });
  }) as unknown as typeof fetch;
  return { requests, fetchImpl };
}

describe("the typed API client", () => {
  it("sends the CSRF token with changes only", async () => {
    const { requests, fetchImpl } = recorder(201, { cloud_account_id: "x" });
    const api = createApi("http://console.test", fetchImpl);
    api.setCsrfToken("token-1");
    await ok(api.client.GET("/v1/cloud-accounts"));
    await ok(api.client.POST("/v1/cloud-accounts", { body: { name: "prod", aws_account_id: "123456789012", role_arn: "arn:aws:iam::123456789012:role/x" } }));
    expect(requests.map((r) => [r.method, new URL(r.url).pathname, r.headers.get("x-csrf-token")])).toEqual([
      ["GET", "/v1/cloud-accounts", null],
      ["POST", "/v1/cloud-accounts", "token-1"],
    ]);
  });

  it("puts path parameters and queries where the API wants them", async () => {
    const { requests, fetchImpl } = recorder(200, { items: [], next_cursor: null });
    const api = createApi("http://console.test", fetchImpl);
    await ok(api.client.GET("/v1/topics", { params: { query: { cluster_id: "c-1", limit: 5 } } }));
    await ok(api.client.GET("/v1/clusters/{cluster_id}", { params: { path: { cluster_id: "c-2" } } }));
    expect(requests.map((r) => r.url)).toEqual(["http://console.test/v1/topics?cluster_id=c-1&limit=5", "http://console.test/v1/clusters/c-2"]);
  });

  it("turns a problem+json answer into an ApiProblem", async () => {
    const { fetchImpl } = recorder(422, { type: "/problems/invalid-body", title: "Invalid request body", status: 422, detail: "name must be 1 to 63 characters long, got 0" }, "application/problem+json");
    const api = createApi("http://console.test", fetchImpl);
    const failure = await ok(api.client.POST("/v1/api-keys", { body: { name: "", scope: "admin" } })).catch((error) => error);
    expect(failure).toBeInstanceOf(ApiProblem);
    expect(failure.status).toBe(422);
    expect(failure.detail).toBe("name must be 1 to 63 characters long, got 0");
  });

  it("reports an unreachable server as status 0", async () => {
    const api = createApi("http://console.test", (async () => {
      throw new TypeError("Failed to fetch");
    }) as unknown as typeof fetch);
    const failure = await ok(api.client.GET("/v1/releases")).catch((error) => error);
    expect(failure).toBeInstanceOf(ApiProblem);
    expect(failure.status).toBe(0);
  });
});
