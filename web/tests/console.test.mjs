// The console as a person sees it, in real headless Chromium, served by a
// running control plane (FJORD_URL, started by `cargo xtask test`).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { chromium } from "playwright-core";

const baseUrl = process.env.FJORD_URL;
let browser;

before(async () => {
  assert.ok(baseUrl, "FJORD_URL must point at a running control plane");
  browser = await chromium.launch({
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
});

after(async () => {
  await browser?.close();
});

test("console loads from the control plane and shows it ready with its version", async () => {
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (error) => errors.push(error.message));
  page.on("requestfailed", (request) => errors.push(`${request.url()} failed`));
  await page.goto(`${baseUrl}/`);
  assert.equal(await page.title(), "Fjord console");
  await page.getByTestId("status").filter({ hasText: /^ready$/ }).waitFor({ timeout: 10_000 });
  const version = await page.getByTestId("version").textContent();
  assert.match(version, /^\d+\.\d+\.\d+ \(API v1\)$/);
  mkdirSync("test-results", { recursive: true });
  await page.screenshot({ path: "test-results/console.png" });
  assert.deepEqual(errors, []);
});

test("a console route survives a reload because unknown pages serve the app", async () => {
  const page = await browser.newPage();
  const response = await page.goto(`${baseUrl}/clusters/some-cluster`);
  assert.equal(response.status(), 200);
  assert.equal(await page.title(), "Fjord console");
});
