// The console as people use it, in real headless Chromium, served by a
// running control plane (FJORD_URL, started by `cargo xtask test` with the
// dev organization's admin user, and a second organization "other").
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { apiCall, baseUrl, check, choose, fetchInPage, launch, openPage, signIn } from "./browser.mjs";

const apiKey = process.env.FJORD_API_KEY;
const admin = { email: process.env.FJORD_USER_EMAIL, password: process.env.FJORD_USER_PASSWORD };
const other = { email: process.env.FJORD_OTHER_EMAIL, password: process.env.FJORD_OTHER_PASSWORD };
const viewer = { email: `viewer-${Date.now().toString(36)}@dev.example`, password: "viewer password 1" };
const suffix = Date.now().toString(36);
const names = { account: `acct-${suffix}`, environment: `env-${suffix}`, cluster: `orders-${suffix}` };
const created = {};
const started = new Date();
// The start of this run as a datetime-local value (local time, minutes).
const startedLocal = new Date(started.getTime() - started.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
let browser;

before(async () => {
  assert.ok(admin.email && admin.password, "FJORD_USER_EMAIL and FJORD_USER_PASSWORD must name the dev organization's admin");
  assert.ok(apiKey, "FJORD_API_KEY must be the dev organization's API key");
  browser = await launch();
});

after(async () => {
  await browser?.close();
});

test("the console loads from the control plane and unknown pages serve the app", async () => {
  const page = await openPage(browser);
  const response = await page.goto(`${baseUrl}/clusters/some-cluster`);
  assert.equal(response.status(), 200);
  assert.equal(await page.title(), "Fjord console");
  await page.waitForURL(/\/sign-in\?next=/);
  await check(page, "01-sign-in");
  await page.getByLabel(/^Email/).fill(admin.email);
  await page.getByLabel(/^Password/).fill("certainly not the password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("alert").filter({ hasText: "Wrong email or password." }).waitFor();
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test("an admin creates an environment, a cluster and topics, sees the agent's status, rolls out and finds it all audited", async () => {
  const page = await openPage(browser);
  await signIn(page, admin.email, admin.password);
  assert.equal(await page.getByTestId("signed-in-as").textContent(), admin.email);
  await check(page, "02-overview");

  // A cloud account, then an environment in it.
  await page.getByRole("link", { name: "Cloud accounts" }).click();
  await page.getByRole("button", { name: "New cloud account" }).click();
  await page.getByLabel(/^Name/).fill(names.account);
  await page.getByLabel(/^AWS account id/).fill("123456789012");
  await page.getByLabel(/^Role ARN/).fill(`arn:aws:iam::123456789012:role/fjord-${suffix}`);
  await page.getByRole("button", { name: "Add cloud account" }).click();
  await page.getByRole("cell", { name: names.account }).waitFor();
  await check(page, "03-cloud-accounts");

  await page.getByRole("link", { name: "Overview" }).click();
  await page.getByRole("button", { name: "New environment" }).click();
  await page.getByLabel(/^Name/).fill(names.environment);
  await choose(page, /^Cloud account/, new RegExp(names.account));
  await page.getByRole("button", { name: "Create environment" }).click();
  const registrationToken = await page.getByTestId("registration-token").inputValue();
  assert.match(registrationToken, /^fjr_/);
  await page.getByRole("button", { name: "Done" }).click();
  await page.getByRole("link", { name: names.environment }).click();
  await page.getByRole("heading", { name: `Environment ${names.environment}` }).waitFor();
  created.environmentId = page.url().split("/").pop();
  assert.equal(await page.getByTestId("connection-state").textContent(), "pending");

  // Provisioning: the checklist runs against the cloud account (the stack's
  // local AWS, roles emulated) and shows each check with its status and
  // message; the network, once its settings are PUT through the API, is
  // provisioned from the console and shows its steps.
  await page.getByTestId("intent-decision").getByText(/has not reported a decision/).waitFor();
  await page.getByTestId("network-unset").waitFor();
  await page.getByRole("button", { name: "Run checks" }).click();
  const checklist = page.getByTestId("checklist");
  await checklist.getByTestId("checklist-summary").filter({ hasText: /^Checked .*: \d+ ok, 0 failed, 0 pending\.$/ }).waitFor({ timeout: 60_000 });
  for (const name of ["assume-role", "external-id-required", "region-enabled", "availability-zones", "permissions"]) {
    const row = checklist.getByTestId(`check-${name}`);
    await row.getByText(/^ok$/).waitFor();
    assert.notEqual((await row.getByRole("cell").nth(2).textContent()).trim(), "", `${name} has a message`);
  }
  const settings = await apiCall("PUT", `/v1/environments/${created.environmentId}/network`, apiKey, { zone_count: 2, broker_count: 3 });
  assert.equal(settings.status, 200, JSON.stringify(settings.body));
  await page.getByRole("button", { name: "Provision network" }).click();
  await page.getByTestId("network-state").filter({ hasText: /^ready$/ }).waitFor({ timeout: 60_000 });
  const steps = page.getByTestId("network-steps");
  for (const step of ["vpc", "subnets", "security-group", "ingress"]) {
    const row = steps.getByTestId(`step-${step}`).first();
    await row.getByText(/^ok$/).waitFor();
    assert.match(await row.getByRole("cell").nth(2).textContent(), new RegExp(`^${step}: (created|found) `));
  }
  await page.getByTestId("network").getByText(/^VPC vpc-/).waitFor();
  await check(page, "03b-environment-provisioned");

  // A cluster: the API's validation message shows next to the field.
  await page.getByRole("link", { name: "New cluster here" }).click();
  await page.getByLabel(/^Name/).fill(names.cluster);
  await choose(page, /^Version/, /^0\.1\.0/);
  await page.getByLabel(/^Brokers/).fill("0");
  await page.getByRole("button", { name: "Create cluster" }).click();
  await page.getByText(/^Broker_count must be/).waitFor();
  await check(page, "04-create-cluster");
  await page.getByLabel(/^Brokers/).fill("3");
  await page.getByRole("button", { name: "Create cluster" }).click();
  await page.getByRole("heading", { name: `Cluster ${names.cluster}` }).waitFor();
  created.clusterId = page.url().split("/").pop();
  // Before the agent reports, the brokers and the address say so.
  await page.getByTestId("bootstrap-address-missing").waitFor();
  await page.getByText("No brokers yet: the agent has not reported this cluster.").waitFor();

  // Topics: a bad partition count is refused next to its field, then
  // create, edit the configuration, and delete with confirmation.
  await page.getByRole("button", { name: "New topic" }).click();
  await page.getByLabel(/^Name/).fill("payments");
  await page.getByLabel(/^Partitions/).fill("0");
  await page.getByRole("button", { name: "Create topic" }).click();
  await page.getByText(/^Partitions must be/).waitFor();
  await page.getByLabel(/^Partitions/).fill("6");
  await page.getByLabel(/^Configuration/).fill("retention.ms=86400000");
  await page.getByRole("button", { name: "Create topic" }).click();
  await page.getByTestId("topic-payments").waitFor();
  await page.getByRole("button", { name: "Edit payments" }).click();
  await page.getByLabel(/^Partitions/).fill("12");
  await page.getByLabel(/^Configuration/).fill("retention.ms=3600000");
  await page.getByRole("button", { name: "Save topic" }).click();
  await page.getByTestId("topic-payments").getByText("retention.ms=3600000").waitFor();
  await page.getByRole("button", { name: "New topic" }).click();
  await page.getByLabel(/^Name/).fill("scratch");
  await page.getByRole("button", { name: "Create topic" }).click();
  await page.getByTestId("topic-scratch").waitFor();
  await page.getByRole("button", { name: "Delete scratch" }).click();
  const confirm = page.getByRole("button", { name: "Delete topic" });
  assert.equal(await confirm.isDisabled(), true, "deleting needs the name typed");
  await page.getByLabel("Topic name").fill("scratch");
  await confirm.click();
  await page.getByTestId("topic-scratch").waitFor({ state: "detached" });

  // The agent connects and reports the cluster running: the open page
  // shows it without a reload.
  const registered = await apiCall("POST", "/v1/agent/register", null, { registration_token: registrationToken, agent_version: "0.1.0" });
  assert.equal(registered.status, 201, JSON.stringify(registered.body));
  const access = await apiCall("POST", "/v1/agent/token", registered.body.agent_credential);
  assert.equal(access.status, 201, JSON.stringify(access.body));
  const bootstrap = `${names.cluster}-kafka.fjord.svc:9092`;
  const brokers = (ready) =>
    [0, 1, 2].map((id) => ({
      broker_id: id,
      version: "0.1.0",
      state: id < ready ? "serving" : "starting",
      ready: id < ready,
      rack: `zone-${"abc"[id]}`,
    }));
  const report = (brokersReady, metrics) =>
    apiCall("POST", "/v1/agent/status", access.body.access_token, {
      observed_generation: 1,
      agent_version: "0.1.0",
      clusters: [
        {
          cluster_id: created.clusterId,
          phase: "running",
          version: "0.1.0",
          brokers_ready: brokersReady,
          conditions: [],
          metrics,
          brokers: brokers(brokersReady),
          bootstrap_address: bootstrap,
        },
      ],
    });
  assert.equal((await report(1, { bytes_in_per_second: 1000, consumer_lag: 12 })).status, 200);
  await page.getByTestId("cluster-phase").filter({ hasText: /^running$/ }).waitFor({ timeout: 15_000 });
  await page.getByTestId("brokers-ready").filter({ hasText: "1 of 3" }).waitFor();
  // Each broker with its version, state, readiness and rack, by id.
  await page.getByTestId("broker-2").getByText(/^starting$/).waitFor();
  const brokerRows = async () =>
    page.getByTestId("brokers").locator("tbody tr").evaluateAll((rows) => rows.map((row) => [...row.querySelectorAll("td")].map((cell) => cell.textContent)));
  assert.deepEqual(await brokerRows(), [
    ["0", "0.1.0", "serving", "yes", "zone-a"],
    ["1", "0.1.0", "starting", "no", "zone-b"],
    ["2", "0.1.0", "starting", "no", "zone-c"],
  ]);
  assert.equal(await page.getByTestId("bootstrap-address").textContent(), bootstrap);
  await page.context().grantPermissions(["clipboard-read", "clipboard-write"], { origin: baseUrl });
  await page.getByRole("button", { name: "Copy address" }).click();
  await page.getByRole("button", { name: "Copied" }).waitFor();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), bootstrap);
  await new Promise((resolve) => setTimeout(resolve, 1100));
  assert.equal((await report(3, { bytes_in_per_second: 1500, consumer_lag: 4 })).status, 200);
  await page.getByTestId("brokers-ready").filter({ hasText: "3 of 3" }).waitFor({ timeout: 15_000 });
  await page.getByTestId("broker-2").getByText(/^serving$/).waitFor({ timeout: 15_000 });
  await page.getByRole("img", { name: /Consumer lag chart/ }).waitFor({ timeout: 15_000 });
  await page.getByRole("img", { name: /Brokers ready chart/ }).waitFor({ timeout: 15_000 });
  await check(page, "05-cluster");
  // A fresh load charts the kept history at once: both reports, oldest
  // first, brokers ready going from 1 to 3.
  await page.reload();
  await page.getByTestId("history").and(page.locator('[data-samples="2"]')).waitFor({ timeout: 15_000 });
  await page.getByRole("img", { name: /Brokers ready chart/ }).waitFor();
  const history = await apiCall("GET", `/v1/clusters/${created.clusterId}/status-history?limit=10`, apiKey);
  assert.deepEqual(history.body.items.map((item) => item.brokers_ready), [3, 1]);
  // The overview counts each cluster's ready brokers.
  await page.getByRole("link", { name: "Overview" }).click();
  await page.getByTestId(`brokers-ready-${names.cluster}`).filter({ hasText: "3/3 brokers ready" }).waitFor({ timeout: 15_000 });

  // The agent waits for the customer's approval of the newest intent: the
  // environment page says so and gives the command that approves it.
  const environment = await apiCall("GET", `/v1/environments/${created.environmentId}`, apiKey);
  const generation = environment.body.generation;
  const waiting = await apiCall("POST", "/v1/agent/intent-reports", access.body.access_token, {
    generation,
    outcome: "waiting",
    check: "approval",
    message: "the change is in ConfigMap fjord-agent-pending",
  });
  assert.equal(waiting.status, 204, JSON.stringify(waiting.body));
  await page.goto(`${baseUrl}/environments/${created.environmentId}`);
  await page.getByTestId("connection-state").filter({ hasText: /^connected$/ }).waitFor({ timeout: 15_000 });
  await page.getByTestId("intent-outcome").filter({ hasText: /^waiting$/ }).waitFor();
  assert.equal(
    await page.getByTestId("approval-command").textContent(),
    `kubectl annotate namespace fjord-system --overwrite fjord.dev/agent-approved-generation=${generation}`,
  );
  await page.getByText("the change is in ConfigMap fjord-agent-pending").waitFor();
  await check(page, "06-environment");
  // Then it refuses one, and the open page shows the failed check.
  const refused = await apiCall("POST", "/v1/agent/intent-reports", access.body.access_token, {
    generation,
    outcome: "refused",
    check: "version-not-allowed",
    message: "version 0.1.0 is not in fjord.dev/agent-allowed-versions",
  });
  assert.equal(refused.status, 204, JSON.stringify(refused.body));
  await page.getByText(`Generation ${generation} refused by the version-not-allowed check.`).waitFor({ timeout: 15_000 });
  assert.equal(await page.getByTestId("approval-command").count(), 0);

  // A rollout in waves, then paused.
  await page.getByRole("link", { name: "Rollouts" }).click();
  await page.getByRole("button", { name: "New rollout" }).click();
  await choose(page, /^Target version/, /^0\.2\.0/);
  const dialog = page.getByRole("dialog");
  for (const input of await dialog.getByLabel(/^Wave of/).all()) await input.fill("0");
  await dialog.getByLabel(new RegExp(`^Wave of ${names.cluster}`)).fill("1");
  await page.getByRole("button", { name: "Start rollout" }).click();
  const rollout = page.getByTestId("rollout").filter({ hasText: "To 0.2.0" }).filter({ hasText: names.cluster }).first();
  await rollout.getByRole("button", { name: "Pause" }).click();
  await rollout.getByTestId("rollout-state").filter({ hasText: /^paused$/ }).waitFor();
  await check(page, "07-rollouts");
  await rollout.getByRole("button", { name: "Resume" }).click();
  await rollout.getByTestId("rollout-state").filter({ hasText: /^running$/ }).waitFor();
  await rollout.getByRole("button", { name: "Pause" }).click();
  await rollout.getByTestId("rollout-state").filter({ hasText: /^paused$/ }).waitFor();

  // A viewer, added from the console.
  await page.getByRole("link", { name: "Users and roles" }).click();
  await page.getByRole("button", { name: "Add user" }).click();
  await page.getByLabel(/^Email/).fill(viewer.email);
  await page.getByLabel(/^First password/).fill(viewer.password);
  await page.getByRole("button", { name: "Add user" }).last().click();
  await page.getByTestId(`user-${viewer.email}`).waitFor();
  await check(page, "08-users");

  // An API key: its secret is shown once.
  await page.getByRole("link", { name: "API keys" }).click();
  await page.getByRole("button", { name: "New API key" }).click();
  await page.getByLabel(/^Name/).fill(`ci-${suffix}`);
  await page.getByRole("button", { name: "Create key" }).click();
  assert.match(await page.getByTestId("new-key-secret").inputValue(), /^fjk_/);
  await page.getByRole("button", { name: "I stored it" }).click();
  await page.getByRole("button", { name: `Revoke ci-${suffix}` }).click();
  await page.getByRole("button", { name: "Revoke key" }).click();
  await page.getByRole("cell", { name: /^revoked/ }).first().waitFor();
  await check(page, "09-api-keys");

  await page.getByRole("link", { name: "Releases" }).click();
  await page.getByRole("cell", { name: /^0\.2\.0/ }).waitFor();
  await check(page, "10-releases");

  // Every action is in the audit log under this user.
  await page.getByRole("link", { name: "Audit log" }).click();
  await page.getByLabel(/^Actor/).fill(`user:${admin.email}`);
  await page.getByLabel(/^Since/).fill(startedLocal);
  await page.getByRole("button", { name: "Filter" }).click();
  const table = page.getByTestId("audit-table");
  for (const action of ["cloud-account.create", "environment.create", "environment.checklist.run", "environment.network.provision", "cluster.create", "topic.create", "topic.update", "topic.delete", "rollout.create", "rollout.pause", "rollout.resume", "user.create", "api-key.create", "api-key.revoke"]) {
    await table.getByRole("cell", { name: action, exact: true }).first().waitFor({ timeout: 10_000 });
  }
  await page.getByLabel(/^Object id/).fill(created.clusterId);
  await page.getByRole("button", { name: "Filter" }).click();
  await table.getByRole("cell", { name: "cluster.create", exact: true }).waitFor();
  assert.equal(await table.getByRole("cell", { name: "topic.create", exact: true }).count(), 0);
  await check(page, "11-audit");

  // A narrow screen still works: the navigation folds into a menu.
  await page.setViewportSize({ width: 390, height: 800 });
  await page.getByRole("button", { name: "Toggle navigation" }).click();
  await page.getByRole("link", { name: "Overview" }).click();
  await page.getByRole("heading", { name: "Overview" }).waitFor();
  await check(page, "12-overview-narrow");

  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL(/\/sign-in/);
  assert.equal((await fetchInPage(page, "GET", "/v1/clusters")).status, 401);
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test("a viewer sees everything and can change nothing", async () => {
  assert.ok(created.clusterId, "runs after the admin's test");
  const page = await openPage(browser);
  await signIn(page, viewer.email, viewer.password);
  assert.equal(await page.getByTestId("role").textContent(), "viewer");
  await page.getByRole("link", { name: names.environment }).waitFor();
  assert.equal(await page.getByRole("button", { name: "New environment" }).count(), 0);
  await page.goto(`${baseUrl}/environments/${created.environmentId}`);
  await page.getByTestId("network-state").filter({ hasText: /^ready$/ }).waitFor();
  await page.getByTestId("intent-outcome").filter({ hasText: /^refused$/ }).waitFor();
  assert.equal(await page.getByRole("button", { name: /^(Run checks|Provision)/ }).count(), 0);
  await page.goto(`${baseUrl}/clusters/${created.clusterId}`);
  await page.getByTestId("topic-payments").waitFor();
  await page.getByTestId("broker-0").waitFor();
  assert.equal(await page.getByTestId("bootstrap-address").textContent(), `${names.cluster}-kafka.fjord.svc:9092`);
  assert.equal(await page.getByRole("button", { name: "New topic" }).count(), 0);
  assert.equal(await page.getByRole("button", { name: "Edit payments" }).count(), 0);
  await check(page, "13-cluster-as-viewer");
  for (const path of ["/rollouts", "/api-keys", "/users", "/audit"]) {
    await page.goto(`${baseUrl}${path}`);
    await page.getByRole("heading", { level: 1 }).waitFor();
    assert.equal(await page.getByRole("button", { name: /^(New|Add|Revoke|Pause|Resume|Remove)/ }).count(), 0, path);
  }
  const refused = await fetchInPage(page, "POST", "/v1/topics", { cluster_id: created.clusterId, name: "sneaky", partitions: 1, replication_factor: 1, config: {} });
  assert.equal(refused.status, 403);
  assert.match(refused.body.detail, /viewer/);
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test("a session of another organization cannot read this one's data", async () => {
  assert.ok(other.email && other.password, "FJORD_OTHER_EMAIL and FJORD_OTHER_PASSWORD name another organization's admin");
  assert.ok(created.clusterId && created.environmentId, "runs after the admin's test");
  const page = await openPage(browser);
  await signIn(page, other.email, other.password);
  await page.getByTestId("empty").filter({ hasText: "No environments yet" }).waitFor();
  await check(page, "14-overview-other-organization");
  for (const path of [`/v1/clusters/${created.clusterId}`, `/v1/environments/${created.environmentId}`]) {
    const answer = await fetchInPage(page, "GET", path);
    assert.equal(answer.status, 404, path);
  }
  const topics = await fetchInPage(page, "GET", `/v1/topics?cluster_id=${created.clusterId}`);
  assert.ok(!JSON.stringify(topics.body).includes("payments"), JSON.stringify(topics.body));
  const changed = await fetchInPage(page, "DELETE", `/v1/clusters/${created.clusterId}`);
  assert.equal(changed.status, 404);
  await page.goto(`${baseUrl}/clusters/${created.clusterId}`);
  await page.getByRole("alert").filter({ hasText: "This no longer exists" }).waitFor();
  assert.deepEqual(page.errors, []);
  await page.context().close();
});
