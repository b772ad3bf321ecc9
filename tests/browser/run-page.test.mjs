// A run's page (issue 17): what it waits for and who was asked, the picture of its
// state machine, and the technician's buttons on it: resend the approval, cancel a
// waiting run, move the start date; each refused when the run no longer waits.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { TEST_TIMEOUT_MS, contosoConfig, idFromUrl, launchChromium, newPage, startServer, statusOn } from "./harness.mjs";

let browser;
before(async () => {
  browser = await launchChromium();
});
after(() => browser?.close());

const APPROVAL = contosoConfig('require_approval_for_new_users = 1\ntime_zone = "Europe/Berlin"');
const SCHEDULED = contosoConfig('allow_scheduled_user_creation = 1\ntime_zone = "Europe/Berlin"');

/** Submits an onboarding through the API; answers its id. */
async function onboard(app, form) {
  const answer = await app.json("/api/onboardings", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ organization: "contoso", ...form }),
  });
  return answer.id;
}

/** The status the picture gives state `name`. */
function stateStatus(page, name) {
  return page.locator(`#picture [data-state="${name}"]`).getAttribute("data-status");
}

/** The day `days` after the virtual clock's now, as YYYY-MM-DD. */
async function dayAfter(app, days) {
  const now = new Date((await app.json("/sandbox/clock")).now);
  return new Date(now.getTime() + days * 24 * 3600 * 1000).toISOString().slice(0, 10);
}

test("a run waiting for approval shows who was asked, until when, and where it waits in the picture", { timeout: TEST_TIMEOUT_MS }, async (t) => {
  // Arrange: submitted through the form, as a technician does.
  const app = await startServer(t, { config: APPROVAL });
  const page = await newPage(t, browser);
  await page.goto(app.url("/"));
  await page.selectOption("#organization", "contoso");
  await page.fill("#first_name", "Grace");
  await page.fill("#last_name", "Hopper");
  await page.getByRole("button", { name: "Start onboarding" }).click();
  await page.waitForURL(/\/onboardings\/[^/]+$/);

  // Assert
  assert.equal(await statusOn(page), "pending_approval");
  const pending = await page.locator("#pending").innerText();
  assert.match(pending, /Approval, asked of approvals@contoso\.com, until \d{4}-\d\d-\d\d \d\d:\d\d CET/);
  assert.match(await page.locator("#timeline").innerText(), /Times in Europe\/Berlin/);
  assert.equal(await stateStatus(page, "Validate"), "passed");
  assert.equal(await stateStatus(page, "RequestApproval"), "current");
  assert.equal(await stateStatus(page, "CreateUser"), "unreached");
  assert.match(await page.locator("#picture-summary").innerText(), /Now in RequestApproval\./);
  const picture = page.getByRole("img", { name: /Where the run went/ });
  assert.equal(await picture.count(), 1, "the picture is labelled for screen readers");
  assert.equal(await page.getByRole("button", { name: "Move the date" }).count(), 0, "only a scheduled run's date moves");
});

test("Resend the approval mails fresh links and the old link stops working", { timeout: TEST_TIMEOUT_MS }, async (t) => {
  // Arrange
  const app = await startServer(t, { config: APPROVAL });
  const id = await onboard(app, { first_name: "Ada", last_name: "Resent" });
  const old = await app.outboxLink("approve");
  const page = await newPage(t, browser);
  await page.goto(app.url(`/onboardings/${id}`));

  // Act
  await page.getByRole("button", { name: "Resend the approval" }).click();
  await page.getByRole("status").waitFor();

  // Assert
  assert.match(await page.getByRole("status").innerText(), /Sent again/);
  assert.match(await page.locator("#timeline").innerText(), /approval sent again to approvals@contoso\.com/);
  const fresh = await app.outboxLink("approve");
  assert.notEqual(fresh, old);
  assert.equal((await page.goto(old)).status(), 410, "the earlier link no longer works");
  assert.equal((await page.goto(fresh)).status(), 200);
  await page.getByRole("button", { name: "Approve", exact: true }).click();
  await page.getByRole("heading", { name: "Decided" }).waitFor();
  assert.equal((await app.settle("onboarding", id)).status, "completed");
});

test("Cancel the run stops a run waiting for approval: no user, the links stop working", { timeout: TEST_TIMEOUT_MS }, async (t) => {
  // Arrange
  const app = await startServer(t, { config: APPROVAL });
  const id = await onboard(app, { first_name: "Cy", last_name: "Ancel" });
  const approve = await app.outboxLink("approve");
  const page = await newPage(t, browser);
  await page.goto(app.url(`/onboardings/${id}`));

  // Act
  await page.getByRole("button", { name: "Cancel the run" }).click();
  await page.getByRole("status").waitFor();

  // Assert
  assert.equal(await statusOn(page), "cancelled");
  assert.match(await page.locator("#timeline").innerText(), /cancelled by a technician while it waited for an approval/);
  assert.equal(await page.getByRole("button", { name: "Cancel the run" }).count(), 0, "nothing left to cancel");
  await app.advance(60);
  await page.reload();
  assert.equal(await stateStatus(page, "Cancelled"), "passed", "the picture shows where it ended");
  assert.equal(await stateStatus(page, "CreateUser"), "unreached");
  assert.equal((await page.goto(approve)).status(), 410);
  assert.equal((await app.usersNamed("cancel")).length, 0);
});

test("Move the date of a scheduled onboarding: it waits for the new day, then runs", { timeout: TEST_TIMEOUT_MS }, async (t) => {
  // Arrange: a start date in 10 days, moved to 3 days.
  const app = await startServer(t, { config: SCHEDULED });
  const id = await onboard(app, { first_name: "Mo", last_name: "Ved", start_date: await dayAfter(app, 10) });
  const sooner = await dayAfter(app, 3);
  const page = await newPage(t, browser);
  await page.goto(app.url(`/onboardings/${id}`));
  assert.equal(await statusOn(page), "scheduled");
  assert.equal(await stateStatus(page, "WaitForStartDate"), "current");

  // Act
  await page.fill("#new-date", sooner);
  await page.getByRole("button", { name: "Move the date" }).click();
  await page.getByRole("status").waitFor();

  // Assert: the page says until the new day; the run goes on that day, not the old one.
  assert.match(await page.locator("#waiting").innerText(), new RegExp(`until ${sooner}`));
  assert.equal(await page.locator("#new-date").inputValue(), sooner);
  await app.advance(2 * 24 * 3600);
  assert.equal((await app.record("onboarding", id)).status, "scheduled");
  await app.advance(2 * 24 * 3600);
  const done = await app.settle("onboarding", id);
  assert.equal(done.status, "completed", JSON.stringify(done));
  await page.reload();
  assert.equal(await stateStatus(page, "Complete"), "passed");
  assert.equal(await page.getByRole("button", { name: "Move the date" }).count(), 0);
});

test("a date in the past is refused on the page, and the run keeps its date", { timeout: TEST_TIMEOUT_MS }, async (t) => {
  // Arrange
  const app = await startServer(t, { config: SCHEDULED });
  const later = await dayAfter(app, 10);
  const id = await onboard(app, { first_name: "Pa", last_name: "St", start_date: later });
  const page = await newPage(t, browser);
  await page.goto(app.url(`/onboardings/${id}`));

  // Act
  await page.fill("#new-date", await dayAfter(app, -2));
  await page.getByRole("button", { name: "Move the date" }).click();
  await page.getByRole("alert").waitFor();

  // Assert
  assert.match(await page.getByRole("alert").innerText(), /Nothing was done: start_date/);
  assert.equal(await statusOn(page), "scheduled");
  assert.match(await page.locator("#waiting").innerText(), new RegExp(`until ${later}`));
});

test("a cancel posted without the page's token, or for a run that no longer waits, does nothing", { timeout: TEST_TIMEOUT_MS }, async (t) => {
  // Arrange
  const app = await startServer(t, { config: APPROVAL });
  const id = await onboard(app, { first_name: "To", last_name: "Ken" });
  const page = await newPage(t, browser);
  await page.goto(app.url(`/onboardings/${id}`));

  // Act: the same form without its token.
  const refused = await page.evaluate(async (path) => {
    const res = await fetch(path, { method: "POST", body: new URLSearchParams({}), credentials: "same-origin" });
    return res.status;
  }, `/onboardings/${id}/cancel`);
  // ...and a real click on the page after the run was approved in another tab.
  const approver = await newPage(t, browser);
  await approver.goto(await app.outboxLink("approve"));
  await approver.getByRole("button", { name: "Approve", exact: true }).click();
  await approver.getByRole("heading", { name: "Decided" }).waitFor();
  await app.settle("onboarding", id);
  await page.getByRole("button", { name: "Cancel the run" }).click();
  await page.getByRole("alert").waitFor();

  // Assert
  assert.equal(refused, 403);
  assert.match(await page.getByRole("alert").innerText(), /Nothing was done: the onboarding is `completed`, not waiting/);
  assert.equal(await statusOn(page), "completed");
});

test("an offboarding's page shows its restore record and the path it took", { timeout: TEST_TIMEOUT_MS }, async (t) => {
  // Arrange: onboard a user with a group, then offboard them.
  const app = await startServer(t, { config: contosoConfig() });
  const onboarding = await onboard(app, { first_name: "Rhea", last_name: "Hire", groups: ["Sales"] });
  const upn = (await app.settle("onboarding", onboarding)).user_principal_name;
  const answer = await app.json("/api/offboardings", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ organization: "contoso", user_principal_name: upn }),
  });
  await app.settle("offboarding", answer.id);
  const page = await newPage(t, browser);

  // Act
  await page.goto(app.url(`/offboardings/${answer.id}`));

  // Assert
  assert.equal(idFromUrl(page.url()), answer.id);
  assert.equal(await statusOn(page), "completed");
  const restore = await page.locator("#restore-record").innerText();
  assert.match(restore, /groups\s+Sales/);
  assert.match(restore, new RegExp(`user principal name\\s+${upn.replace(".", "\\.")}`));
  assert.equal(await page.locator('#picture [data-status="current"]').count(), 0, "an ended run is nowhere now");
  assert.equal(await page.locator('#picture [data-status="caught"]').count(), 0);
  assert.equal(await page.getByRole("button", { name: "Cancel the run" }).count(), 0);
});

test("Restore the user on a completed offboarding's page puts sign-in and groups back", { timeout: TEST_TIMEOUT_MS }, async (t) => {
  // Arrange: a user with a group, onboarded then offboarded.
  const app = await startServer(t, { config: contosoConfig() });
  const onboarding = await onboard(app, { first_name: "Rhea", last_name: "Store", groups: ["Sales"] });
  const upn = (await app.settle("onboarding", onboarding)).user_principal_name;
  const answer = await app.json("/api/offboardings", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ organization: "contoso", user_principal_name: upn }),
  });
  await app.settle("offboarding", answer.id);
  assert.equal((await app.graphUser(upn)).accountEnabled, false, "the offboarding disabled the user");
  const page = await newPage(t, browser);
  await page.goto(app.url(`/offboardings/${answer.id}`));

  // Act
  await page.getByRole("button", { name: "Restore the user" }).click();
  await page.getByRole("status").waitFor();

  // Assert
  assert.match(await page.getByRole("status").innerText(), /Restored/);
  assert.match(await page.locator("#timeline").innerText(), /restore/i);
  assert.equal((await app.graphUser(upn)).accountEnabled, true, "sign-in is back");
  const groups = await app.graph(`/users/${encodeURIComponent(upn)}/memberOf?$select=displayName`);
  assert.ok(groups.value.some((g) => g.displayName === "Sales"), JSON.stringify(groups));
});
