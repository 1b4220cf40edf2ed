// Helpers of the browser tests: Chromium, sign-in, screenshots, axe-core.
import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { resolve } from "node:path";
import { chromium } from "playwright-core";

export const baseUrl = process.env.FJORD_URL;
export const screenshots = resolve(process.env.FJORD_SCREENSHOTS ?? "test-results/screenshots");
const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

export async function launch() {
  assert.ok(baseUrl, "FJORD_URL must point at a running control plane");
  mkdirSync(screenshots, { recursive: true });
  console.log(`screenshots go to ${screenshots}`);
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
}

/** A fresh browser context (its own cookies) and page that records errors. */
export async function openPage(browser, viewport = { width: 1280, height: 860 }) {
  const context = await browser.newContext({ viewport, reducedMotion: "reduce" });
  const page = await context.newPage();
  page.errors = [];
  page.on("pageerror", (error) => page.errors.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    // Chromium logs every 4xx answer as a failed resource; the tests provoke
    // some on purpose (sign-in refused, a validation error shown at its
    // field). Anything else the page logs as an error fails the test.
    if (message.type() === "error" && !/^Failed to load resource: the server responded with a status of 4\d\d/.test(message.text())) {
      page.errors.push(`console error: ${message.text()}`);
    }
  });
  page.on("requestfailed", (request) => {
    if (!request.failure()?.errorText.includes("ERR_ABORTED")) page.errors.push(`${request.url()} failed`);
  });
  page.on("request", (request) => {
    if (!request.url().startsWith(baseUrl) && !request.url().startsWith("data:")) {
      page.errors.push(`loaded from outside: ${request.url()}`);
    }
  });
  return page;
}

export async function signIn(page, email, password) {
  await page.goto(`${baseUrl}/`);
  await page.waitForURL(/\/sign-in/);
  await page.getByLabel(/^Email/).fill(email);
  await page.getByLabel(/^Password/).fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Overview" }).waitFor();
}

/** Screenshot named `name`, and no axe-core violations on the page. */
export async function check(page, name) {
  await page.waitForFunction(() => !document.querySelector('[role="dialog"]'), null, { timeout: 10_000 });
  await page.waitForLoadState("networkidle").catch(() => {});
  await page.screenshot({ path: `${screenshots}/${name}.png`, fullPage: true });
  if (!(await page.evaluate(() => "axe" in window))) await page.addScriptTag({ content: axeSource });
  const result = await page.evaluate(async () => {
    const outcome = await window.axe.run(document, { resultTypes: ["violations"] });
    return outcome.violations.map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
  });
  assert.deepEqual(result, [], `axe-core violations on ${name}`);
}

/** A JSON request from the page, with its cookies and, for changes, the CSRF token. */
export async function fetchInPage(page, method, path, body) {
  return page.evaluate(
    async ({ method, path, body }) => {
      const session = await (await fetch("/v1/session")).json();
      const response = await fetch(path, {
        method,
        headers: { "content-type": "application/json", "x-csrf-token": session.csrf_token ?? "" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: response.status, body: await response.json().catch(() => null) };
    },
    { method, path, body },
  );
}

/** Calls the API directly (as an agent or with an API key). */
export async function apiCall(method, path, token, body) {
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

/** Picks `option` in the Mantine select labelled `label`. */
export async function choose(page, label, option) {
  await page.getByLabel(label).first().click();
  await page.getByRole("option", { name: option }).click();
}
