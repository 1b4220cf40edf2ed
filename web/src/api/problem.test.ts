import { describe, expect, it } from "vitest";
import { ApiProblem, fieldErrors, plainWords } from "./problem";

describe("problems in plain words", () => {
  it("says what a 403 means and keeps the API's reason", () => {
    const problem = ApiProblem.from(403, { type: "/problems/forbidden", title: "Forbidden", status: 403, detail: "you are a viewer in this organization; ask an admin to make changes" });
    expect(plainWords(problem)).toBe("You are not allowed to do this. You are a viewer in this organization; ask an admin to make changes.");
  });

  it("hides server internals and explains network failures", () => {
    expect(plainWords(ApiProblem.from(500, { detail: "boom" }))).toBe("The control plane failed to answer. Try again in a moment.");
    expect(plainWords(new ApiProblem(0, "network", "Network error", "Failed to fetch"))).toMatch(/cannot be reached/);
  });

  it("survives bodies that are not problems", () => {
    const problem = ApiProblem.from(418, "teapot");
    expect(problem.title).toBe("Request failed (418)");
    expect(plainWords(problem)).toBe("Request failed (418).");
  });
});

describe("validation messages next to fields", () => {
  const fields = ["name", "partitions", "replication_factor", "config"];

  it("attaches a message to the field it names", () => {
    const problem = ApiProblem.from(422, { detail: "partitions must be between 1 and 10000, got 0" });
    expect(fieldErrors(problem, fields)).toEqual({ fields: { partitions: "Partitions must be between 1 and 10000, got 0" } });
  });

  it("prefers the longest matching field name", () => {
    const problem = ApiProblem.from(422, { detail: "replication_factor must be between 1 and 5, got 9" });
    expect(Object.keys(fieldErrors(problem, ["replication", "replication_factor"]).fields)).toEqual(["replication_factor"]);
  });

  it("puts other problems on the form", () => {
    const conflict = ApiProblem.from(409, { detail: "a topic with this name already exists in the cluster" });
    expect(fieldErrors(conflict, fields)).toEqual({ fields: {}, form: "This clashes with the current state. A topic with this name already exists in the cluster." });
    expect(fieldErrors(undefined, fields)).toEqual({ fields: {}, form: undefined });
  });
});
