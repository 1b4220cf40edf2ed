// Errors from the API are RFC 7807 problems; these helpers turn them into
// words a person can act on, and attach validation messages to form fields.

/** A problem answered by the API (or a network failure, status 0). */
export class ApiProblem extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    readonly title: string,
    readonly detail: string,
  ) {
    super(detail || title);
    this.name = "ApiProblem";
  }

  /** Builds a problem from a response and its (possibly empty) body. */
  static from(status: number, body: unknown): ApiProblem {
    const problem = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>;
    const text = (value: unknown) => (typeof value === "string" ? value : "");
    return new ApiProblem(
      status,
      text(problem.type) || "about:blank",
      text(problem.title) || `Request failed (${status})`,
      text(problem.detail),
    );
  }
}

/** What went wrong, in plain words, for a banner or a notification. */
export function plainWords(error: unknown): string {
  if (!(error instanceof ApiProblem)) {
    return error instanceof Error && error.message
      ? `Something went wrong: ${error.message}`
      : "Something went wrong.";
  }
  const detail = error.detail ? ` ${capitalize(error.detail)}.` : "";
  switch (error.status) {
    case 0:
      return "The control plane cannot be reached. Check your connection; the page retries by itself.";
    case 401:
      return `You are signed out.${detail}`;
    case 403:
      return `You are not allowed to do this.${detail}`;
    case 404:
      return `This no longer exists.${detail}`;
    case 409:
      return `This clashes with the current state.${detail}`;
    case 412:
      return "Someone else changed this since you opened it. Reload and try again.";
    case 422:
      return `Please check the form.${detail}`;
    case 429:
      return `Too many attempts.${detail}`;
    default:
      return error.status >= 500
        ? "The control plane failed to answer. Try again in a moment."
        : `${error.title}.${detail}`;
  }
}

function capitalize(text: string): string {
  const trimmed = text.replace(/[.\s]+$/, "");
  return trimmed.charAt(0).toUpperCase() + trimmed.slice(1);
}

/**
 * Splits a validation problem into messages per form field. The API names
 * the field first in its messages ("partitions must be 1 to 10000, got 0"),
 * so a message that starts with a field's name belongs to that field; other
 * messages go under `form`.
 */
export function fieldErrors(
  error: unknown,
  fields: readonly string[],
): { fields: Record<string, string>; form?: string } {
  if (!(error instanceof ApiProblem)) return { fields: {}, form: error ? plainWords(error) : undefined };
  if (error.status !== 422 || !error.detail) return { fields: {}, form: plainWords(error) };
  const byLength = [...fields].sort((a, b) => b.length - a.length);
  const field = byLength.find(
    (name) => error.detail.startsWith(`${name} `) || error.detail.startsWith(`${name}:`) || error.detail.startsWith(`${name}.`),
  );
  if (!field) return { fields: {}, form: plainWords(error) };
  return { fields: { [field]: capitalize(error.detail) } };
}
