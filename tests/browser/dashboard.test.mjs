// The dashboard at `/` (issue 17): runs newest first, filters, counts, what a run
// waits for in the organization's time zone, and the live refresh.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { TEST_TIMEOUT_MS, contosoConfig, launchChromium, newPage, startServer } from "./harness.mjs";

let browser;
before(async () => {
  browser = await launchChromium();
});
after(() => browser?.close());

/** Submits an onboarding through the API; answers its id. */
async function onboard(app, form) {
  const answer = await app.json("/api/onboardings", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ organization: "contoso", ...form }),
  });
  return answer.id;
}

test("the dashboard lists runs newest first, filters them by status and says until when one waits", { timeout: TEST_TIMEOUT_MS }, async (t) => {
  // Arrange: one run waiting for its start date (Berlin time), one completed after it.
  const app = await startServer(t, {
    config: contosoConfig('allow_scheduled_user_creation = 1\ntime_zone = "Europe/Berlin"'),
  });
  const now = new Date((await app.json("/sandbox/clock")).now);
  const start = new Date(now.getTime() + 10 * 24 * 3600 * 1000);
  const waiting = await onboard(app, { first_name: "Fu", last_name: "Ture", start_date: start.toISOString() });
  await app.advance(60);
  const done = await onboard(app, { first_name: "Now", last_name: "Done" });
  const page = await newPage(t, browser);

  // Act
  await page.goto(app.url("/"));

  // Assert: newest first, with the wait in the organization's zone.
  const rows = page.locator("#runs tbody tr");
  assert.deepEqual(await rows.evaluateAll((trs) => trs.map((tr) => tr.dataset.id)), [done, waiting]);
  const waitingRow = page.locator(`#runs tr[data-id="${waiting}"]`);
  assert.match(await waitingRow.innerText(), /start date until \d{4}-\d\d-\d\d \d\d:\d\d CE/);
  assert.equal(await page.locator('#runs [data-status="scheduled"]').innerText(), "1");
  assert.equal(await page.locator('#runs [data-status="completed"]').innerText(), "1");

  // Act: filter by status with the keyboard-usable form.
  await page.selectOption("#filter-status", "scheduled");
  await page.getByRole("button", { name: "Filter" }).click();
  await page.waitForURL(/status=scheduled/);
  assert.deepEqual(await rows.evaluateAll((trs) => trs.map((tr) => tr.dataset.id)), [waiting]);

  // The row links to the run's page.
  await page.getByRole("link", { name: "Fu Ture" }).click();
  await page.waitForURL(new RegExp(`/onboardings/${waiting}$`));
  assert.equal(await page.locator("#status").innerText(), "scheduled");
});

test("the dashboard shows a new run without a reload", { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const app = await startServer(t);
  const page = await newPage(t, browser);
  await page.goto(app.url("/"));
  await page.locator("#no-runs").waitFor();

  const id = await onboard(app, { first_name: "Live", last_name: "Update" });

  // The page's script refreshes the runs section every 5 s.
  await page.locator(`#runs tr[data-id="${id}"]`).waitFor({ timeout: 8000 });
  assert.equal(await page.locator(`#runs tr[data-id="${id}"] td a`).innerText(), "Live Update");
});

test("an unknown status in the address bar is a page saying so", { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const app = await startServer(t);
  const page = await newPage(t, browser);
  const res = await page.goto(app.url("/?status=asleep"));
  assert.equal(res.status(), 400);
  assert.match(await page.getByRole("alert").innerText(), /unknown status `asleep`/);
});
