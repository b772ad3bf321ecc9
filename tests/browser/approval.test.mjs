// Approving and denying a new user through the link in the approver's mail: the
// link opens a confirmation page, its button decides, once.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { TEST_TIMEOUT_MS, contosoConfig, idFromUrl, launchChromium, newPage, startServer, statusOn } from "./harness.mjs";

let browser;
before(async () => {
  browser = await launchChromium();
});
after(() => browser?.close());

/** Fills the onboarding form for `first last` and sends it; answers the record id. */
async function requestUser(page, app, first, last) {
  await page.goto(app.url("/"));
  await page.selectOption("#organization", "contoso");
  await page.fill("#first_name", first);
  await page.fill("#last_name", last);
  await page.getByRole("button", { name: "Start onboarding" }).click();
  await page.waitForURL(/\/onboardings\/[^/]+$/);
  return idFromUrl(page.url());
}

test("an approver opens the mailed approve link, clicks Approve, and the user is created", { timeout: TEST_TIMEOUT_MS }, async (t) => {
  // Arrange
  const app = await startServer(t, { config: contosoConfig("require_approval_for_new_users = 1") });
  const page = await newPage(t, browser);
  const id = await requestUser(page, app, "Grace", "Hopper");
  assert.equal(await statusOn(page), "pending_approval");
  const approve = await app.outboxLink("approve");
  assert.ok(approve, "an approve link in the mail");

  // Act
  const shown = await page.goto(approve);
  assert.equal(shown.status(), 200);
  assert.match(await page.locator("body").innerText(), /Grace Hopper/);
  assert.equal((await app.record("onboarding", id)).status, "pending_approval", "opening the link decides nothing");
  await page.getByRole("button", { name: "Approve", exact: true }).click();
  await page.getByRole("heading", { name: "Decided" }).waitFor();

  // Assert
  assert.match(await page.locator("body").innerText(), /Done: approved by approvals@contoso\.com/);
  const record = await app.settle("onboarding", id);
  assert.equal(record.status, "completed", JSON.stringify(record));
  assert.equal((await app.usersNamed("ghopper")).length, 1);
});

test("an approve link used once says who approved it and shows no button any more", { timeout: TEST_TIMEOUT_MS }, async (t) => {
  // Arrange
  const app = await startServer(t, { config: contosoConfig("require_approval_for_new_users = 1") });
  const page = await newPage(t, browser);
  await requestUser(page, app, "Ada", "Again");
  const approve = await app.outboxLink("approve");
  const deny = await app.outboxLink("deny");
  await page.goto(approve);
  await page.getByRole("button", { name: "Approve", exact: true }).click();
  await page.getByRole("heading", { name: "Decided" }).waitFor();

  // Act
  await page.goto(approve);
  const approveAgain = await page.locator("body").innerText();
  const approveForms = await page.locator("form").count();
  await page.goto(deny);
  const denyAfter = await page.locator("body").innerText();
  const denyButtons = await page.getByRole("button", { name: "Deny", exact: true }).count();

  // Assert
  assert.match(approveAgain, /Already approved by approvals@contoso\.com at \S+/);
  assert.equal(approveForms, 0, "no form on a used link's page");
  assert.match(denyAfter, /Already approved by approvals@contoso\.com/);
  assert.equal(denyButtons, 0, "the other decision cannot be taken any more");
  assert.equal((await app.usersNamed("aagain")).length, 1);
});

test("an approver opens the mailed deny link, clicks Deny, and no user is created", { timeout: TEST_TIMEOUT_MS }, async (t) => {
  // Arrange
  const app = await startServer(t, { config: contosoConfig("require_approval_for_new_users = 1") });
  const page = await newPage(t, browser);
  const id = await requestUser(page, app, "Dennis", "Denied");
  const deny = await app.outboxLink("deny");
  assert.ok(deny, "a deny link in the mail");

  // Act
  await page.goto(deny);
  assert.match(await page.locator("body").innerText(), /Dennis Denied/);
  await page.getByRole("button", { name: "Deny", exact: true }).click();
  await page.getByRole("heading", { name: "Decided" }).waitFor();

  // Assert
  assert.match(await page.locator("body").innerText(), /Done: denied by approvals@contoso\.com/);
  const record = await app.settle("onboarding", id);
  assert.equal(record.status, "denied", JSON.stringify(record));
  assert.equal((await app.usersNamed("ddenied")).length, 0);
  await page.goto(deny);
  assert.match(await page.locator("body").innerText(), /Already denied by approvals@contoso\.com at \S+/);
  assert.equal(await page.getByRole("button", { name: "Deny", exact: true }).count(), 0);
});

test("an approve link opened after the approval timed out says it expired", { timeout: TEST_TIMEOUT_MS }, async (t) => {
  // Arrange
  const app = await startServer(t, {
    config: contosoConfig("require_approval_for_new_users = 1\napproval_timeout_hours = 1"),
  });
  const page = await newPage(t, browser);
  const id = await requestUser(page, app, "Tim", "Eout");
  const approve = await app.outboxLink("approve");
  await app.advance(2 * 3600);

  // Act
  const response = await page.goto(approve);

  // Assert
  assert.equal(response.status(), 410);
  assert.match(await page.locator("body").innerText(), /expired/i);
  assert.equal(await page.getByRole("button", { name: "Approve", exact: true }).count(), 0);
  assert.equal((await app.record("onboarding", id)).status, "approval_timed_out");
  assert.equal((await app.usersNamed("teout")).length, 0);
});

test("the approvals page lists what waits, who was asked and until when, each linking to its own run", { timeout: TEST_TIMEOUT_MS }, async (t) => {
  // Arrange: an onboarding and an offboarding, both waiting for approval.
  const app = await startServer(t, {
    config: contosoConfig(
      'require_approval_for_new_users = 1\nrequire_approval_for_offboarding_users = 1\noffboarding_user_approval_email = ["offboarding@contoso.com"]\ntime_zone = "Europe/Berlin"',
    ),
  });
  const page = await newPage(t, browser);
  const onboarding = await requestUser(page, app, "Wai", "Ting");
  const off = await app.json("/api/offboardings", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ organization: "contoso", user_principal_name: "AlexW@contoso.com" }),
  });

  // Act: from the navigation.
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Pending approvals" }).click();
  await page.waitForURL(/\/approvals$/);

  // Assert
  const row = (id) => page.locator(`#pending tr[data-id="${id}"]`);
  assert.match(await row(onboarding).innerText(), /approval\s+Wai Ting\s+approvals@contoso\.com\s+\d{4}-\d\d-\d\d \d\d:\d\d CET/);
  assert.match(await row(off.id).innerText(), /approval\s+AlexW@contoso\.com\s+offboarding@contoso\.com/);
  await row(off.id).getByRole("link", { name: "AlexW@contoso.com" }).click();
  await page.waitForURL(new RegExp(`/offboardings/${off.id}$`));
  assert.equal(await statusOn(page), "pending_approval");
});
