// A license nobody has a free seat of (`SPB` in the sandbox), bought by hand: a
// technician confirms or rejects the purchase from the pending approvals page.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { TEST_TIMEOUT_MS, contosoConfig, idFromUrl, launchChromium, newPage, startServer } from "./harness.mjs";

let browser;
before(async () => {
  browser = await launchChromium();
});
after(() => browser?.close());

/** Sends the form for a user with license `SPB`, bought by a technician; answers the id. */
async function requestUserWithSpb(page, app, first, last) {
  await page.goto(app.url("/"));
  await page.selectOption("#organization", "contoso");
  await page.fill("#first_name", first);
  await page.fill("#last_name", last);
  await page.fill("#licenses", "SPB");
  await page.selectOption("#license_purchase", "manual");
  await page.getByRole("button", { name: "Start onboarding" }).click();
  await page.waitForURL(/\/onboardings\/[^/]+$/);
  return idFromUrl(page.url());
}

/** Opens `/approvals`, follows the link named `label`, and clicks the page's button of that name. */
async function decideFromApprovals(page, app, label) {
  await page.goto(app.url("/approvals"));
  await page.getByRole("link", { name: label, exact: true }).click();
  await page.getByRole("button", { name: label, exact: true }).click();
  await page.getByRole("heading", { name: "Decided" }).waitFor();
}

test("a technician confirms a bought seat from the approvals page and the user gets the license", { timeout: TEST_TIMEOUT_MS }, async (t) => {
  // Arrange
  const app = await startServer(t, {
    config: contosoConfig('auto_purchase_license_if_none_available = 1\nmicrosoft_licensing_distributor = "pax8"'),
  });
  const page = await newPage(t, browser);
  const id = await requestUserWithSpb(page, app, "Manny", "Ual");
  assert.equal((await app.record("onboarding", id)).status, "waiting_license_purchase");
  await app.pax8BuyPremiumSeat();

  // Act
  await decideFromApprovals(page, app, "Confirm license purchase");

  // Assert
  assert.match(await page.locator("body").innerText(), /Done: confirmed by \S+/);
  const record = await app.settle("onboarding", id, { waiting: ["running", "waiting_license_purchase"] });
  assert.equal(record.status, "completed", JSON.stringify(record));
  assert.equal(record.license_outcome, "purchase_confirmed");
  assert.equal((await app.usersNamed("mual")).length, 1);
});

test("a technician rejects the purchase from the approvals page and the user is created without it", { timeout: TEST_TIMEOUT_MS }, async (t) => {
  // Arrange
  const app = await startServer(t, { config: contosoConfig("auto_purchase_license_if_none_available = 0") });
  const page = await newPage(t, browser);
  const id = await requestUserWithSpb(page, app, "Rita", "Reject");
  assert.equal((await app.record("onboarding", id)).status, "waiting_license_purchase");

  // Act
  await decideFromApprovals(page, app, "Reject license purchase");

  // Assert
  assert.match(await page.locator("body").innerText(), /Done: rejected by \S+/);
  const record = await app.settle("onboarding", id);
  assert.equal(record.status, "completed", JSON.stringify(record));
  assert.equal(record.license_outcome, "purchase_rejected");
  assert.equal((await app.usersNamed("rreject")).length, 1);
});
