import "./style.css";
import { api, type Readiness, type ServiceInfo } from "./api";

const app = document.querySelector<HTMLDivElement>("#app")!;

function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Record<string, string> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

function statusBadge(readiness: Readiness | Error): HTMLElement {
  if (readiness instanceof Error) {
    return element("span", { class: "badge bad", "data-testid": "status" }, "unreachable");
  }
  const ready = readiness.status === "ready";
  return element(
    "span",
    { class: `badge ${ready ? "good" : "bad"}`, "data-testid": "status" },
    ready ? "ready" : "not ready",
  );
}

function render(info: ServiceInfo | Error, readiness: Readiness | Error): void {
  const version = info instanceof Error ? "unknown" : `${info.version} (API ${info.api_version})`;
  const checks =
    readiness instanceof Error
      ? [element("li", {}, readiness.message)]
      : Object.entries(readiness.checks ?? {}).map(([name, state]) =>
          element("li", {}, element("strong", {}, name), `: ${state}`),
        );
  app.replaceChildren(
    element("header", {}, element("h1", {}, "Fjord"), element("span", { class: "tagline" }, "streaming in your own cloud")),
    element(
      "main",
      {},
      element(
        "section",
        { class: "card" },
        element("h2", {}, "Control plane ", statusBadge(readiness)),
        element("p", {}, "Version ", element("code", { "data-testid": "version" }, version)),
        element("ul", { class: "checks" }, ...checks),
        element("p", {}, element("a", { href: "/openapi.json" }, "OpenAPI document")),
      ),
    ),
  );
}

async function refresh(): Promise<void> {
  const [info, readiness] = await Promise.all([
    api.info().catch((error: Error) => error),
    api.readiness().catch((error: Error) => error),
  ]);
  render(info, readiness);
}

void refresh();
setInterval(() => void refresh(), 5000);
