// The new-user form's pickers and live plan, and the offboarding form's preview
// (issue 17): typed and clicked as a person does, against the sandbox tenant.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { TEST_TIMEOUT_MS, idFromUrl, launchChromium, newPage, startServer } from "./harness.mjs";

let browser;
before(async () => {
  browser = await launchChromium();
});
after(() => browser?.close());

test("the plan updates as you type and follows the license picker", { timeout: TEST_TIMEOUT_MS }, async (t) => {
  // Arrange
  const app = await startServer(t);
  const page = await newPage(t, browser);
  await page.goto(app.url("/"));
  const plan = page.locator("#plan-body");

  // Act: a name, then a license box with no free seat
  await page.selectOption("#organization", "contoso");
  await page.fill("#first_name", "Ada");
  await page.fill("#last_name", "Lovelace");

  // Assert: the username shows without submitting
  await plan.getByText("alovelace@contoso.com").waitFor();
  const premium = page.getByRole("checkbox", { name: /Microsoft 365 Business Premium/ });
  assert.match(await page.locator("label.check", { has: premium }).textContent(), /\(0 free\)/);
  await premium.check();
  await plan.getByText(/SPB \(0 free\): (ask a technician to buy|buy through the distributor)/).waitFor();

  // And: a last name changed, the plan follows
  await page.fill("#last_name", "Byron");
  await plan.getByText("abyron@contoso.com").waitFor();
  assert.equal((await app.json("/api/onboardings")).items.length, 0, "planning started nothing");
});

test("the plan says whether the tenant will make the new user use MFA", { timeout: TEST_TIMEOUT_MS }, async (t) => {
  // Arrange
  const app = await startServer(t);
  const page = await newPage(t, browser);
  await page.goto(app.url("/"));
  const plan = page.locator("#plan-body");

  // Act: a user of the protected demo tenant
  await page.selectOption("#organization", "contoso");
  await page.fill("#first_name", "Ada");
  await page.fill("#last_name", "Lovelace");

  // Assert: the policy that requires MFA is named
  await plan.getByText("required by Conditional Access policy 'Require MFA for all users'").waitFor();

  // And: in the unprotected one, the plan says nothing requires it, as a warning too
  await page.selectOption("#organization", "fabrikam");
  await plan.getByText("alovelace@fabrikam.com").waitFor();
  await plan.getByText("no policy requires it for this user — consider security defaults", { exact: true }).waitFor();
  await plan.locator("ul.warn").getByText("MFA: no policy requires it for this user — consider security defaults").waitFor();
});

test("the pickers find the manager, the copy-from user and groups by search, and the form submits them", { timeout: TEST_TIMEOUT_MS }, async (t) => {
  // Arrange
  const app = await startServer(t);
  const page = await newPage(t, browser);
  await page.goto(app.url("/"));
  await page.selectOption("#organization", "contoso");
  await page.fill("#first_name", "Grace");
  await page.fill("#last_name", "Hopper");

  // Act: search users for the manager, keyboard only
  await page.locator("#manager_email").pressSequentially("Adele");
  await page.waitForFunction(() =>
    Array.from(document.querySelectorAll("#manager_email-options option")).some((o) => o.value === "AdeleV@contoso.com"));
  await page.fill("#manager_email", "AdeleV@contoso.com");

  // Act: a group by search, picked from the suggestions
  await page.locator("#group-search").pressSequentially("Sal");
  await page.waitForFunction(() =>
    Array.from(document.querySelectorAll("#group-options option")).some((o) => o.value === "Sales"));
  await page.fill("#group-search", "Sales");
  assert.equal(await page.inputValue("#groups"), "Sales");
  await page.locator("#plan-body").getByText("Sales: found").waitFor();

  // Act: a license box, then submit
  await page.getByRole("checkbox", { name: /Microsoft 365 Business Standard/ }).check();
  await page.getByRole("button", { name: "Start onboarding" }).click();
  await page.waitForURL(/\/onboardings\/[^/]+$/);

  // Assert
  const record = await app.record("onboarding", idFromUrl(page.url()));
  assert.equal(record.status, "completed", JSON.stringify(record));
  assert.equal(record.license_outcome, "assigned", JSON.stringify(record));
  const [user] = await app.usersNamed("ghopper");
  assert.ok(user, "the user was created");
  const groups = await app.graph(`/users/${user.id}/memberOf`);
  assert.ok(groups.value.some((g) => g.displayName === "Sales"), JSON.stringify(groups));
});

test("the offboarding form previews what will be removed before it is submitted", { timeout: TEST_TIMEOUT_MS }, async (t) => {
  // Arrange
  const app = await startServer(t);
  const page = await newPage(t, browser);
  await page.goto(app.url("/offboard"));
  await page.selectOption("#organization", "contoso");

  // Act
  await page.locator("#user_principal_name").pressSequentially("Alex");
  await page.waitForFunction(() =>
    Array.from(document.querySelectorAll("#user_principal_name-options option")).some((o) => o.value === "AlexW@contoso.com"));
  await page.fill("#user_principal_name", "AlexW@contoso.com");

  // Assert
  const preview = page.locator("#preview-body");
  await preview.getByText("Groups removed").waitFor();
  await preview.getByText("Sales", { exact: true }).waitFor();
  assert.equal((await app.json("/api/offboardings")).items.length, 0, "the preview started nothing");
  const [alex] = await app.usersNamed("alexw");
  assert.notEqual(alex.accountEnabled, false, "the preview changed nothing");
});

test("without JavaScript, Show the plan answers the plan on the page, keeps what was typed and starts nothing", { timeout: TEST_TIMEOUT_MS }, async (t) => {
  // Arrange: a browser with script off (mail scanners, locked-down browsers).
  const app = await startServer(t);
  const context = await browser.newContext({ javaScriptEnabled: false });
  t.after(() => context.close());
  const page = await context.newPage();
  await page.goto(app.url("/"));
  await page.selectOption("#organization", "contoso");
  await page.fill("#first_name", "Ada");
  await page.fill("#last_name", "Lovelace");
  await page.getByRole("checkbox", { name: /Microsoft 365 Business Premium/ }).check();
  const ticketsBefore = (await app.tickets()).length;

  // Act
  await page.getByRole("button", { name: "Show the plan" }).click();
  await page.waitForURL(/\/onboardings\/plan$/);

  // Assert
  const plan = page.locator("#plan-body");
  assert.match(await plan.innerText(), /Username\s+alovelace@contoso\.com/);
  assert.match(await plan.innerText(), /SPB \(0 free\): (ask a technician to buy|buy through the distributor)/);
  assert.equal(await page.locator("#first_name").inputValue(), "Ada", "what was typed is kept");
  assert.ok(await page.getByRole("checkbox", { name: /Microsoft 365 Business Premium/ }).isChecked());
  assert.equal((await app.json("/api/onboardings")).items.length, 0, "planning started nothing");
  assert.equal((await app.tickets()).length, ticketsBefore, "and opened no ticket");

  // And: the same page starts it for real.
  await page.getByRole("button", { name: "Start onboarding" }).click();
  await page.waitForURL(/\/onboardings\/[^/]+$/);
  assert.notEqual(idFromUrl(page.url()), "plan");
});

test("without JavaScript, Show the plan of a form missing its name says so beside the field", { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const app = await startServer(t);
  const context = await browser.newContext({ javaScriptEnabled: false });
  t.after(() => context.close());
  const page = await context.newPage();
  await page.goto(app.url("/"));
  await page.fill("#first_name", "Ada");
  const answer = page.waitForResponse((r) => r.url().endsWith("/onboardings/plan"));
  await page.getByRole("button", { name: "Show the plan" }).click();
  assert.equal((await answer).status(), 400);
  await page.getByRole("alert").waitFor();
  assert.match(await page.locator("#last_name-error").innerText(), /required/i);
  assert.equal((await app.json("/api/onboardings")).items.length, 0);
});

test("distribution lists and shared mailboxes are typed in the form, planned as Exchange's, and granted", { timeout: TEST_TIMEOUT_MS }, async (t) => {
  // Arrange
  const app = await startServer(t);
  const page = await newPage(t, browser);
  await page.goto(app.url("/"));
  await page.selectOption("#organization", "contoso");
  await page.fill("#first_name", "Mona");
  await page.fill("#last_name", "Mail");
  await page.getByRole("checkbox", { name: /Microsoft 365 Business Standard/ }).check();
  const plan = page.locator("#plan-body");

  // Act: a distribution list found by search, and the shared mailbox typed
  await page.locator("#group-search").pressSequentially("Contoso Ann");
  await page.waitForFunction(() =>
    Array.from(document.querySelectorAll("#group-options option")).some((o) => o.value === "Contoso Announcements"));
  await page.fill("#group-search", "Contoso Announcements");
  await page.getByLabel(/Shared mailboxes/).fill("info@contoso.com");

  // Assert: the plan says Exchange does these, once the mailbox exists
  await plan.getByText("Contoso Announcements: found; added through Exchange Online once the mailbox exists").waitFor();
  await plan.getByText("info@contoso.com: FullAccess and SendAs, once the mailbox exists").waitFor();

  // Act: submit
  await page.getByRole("button", { name: "Start onboarding" }).click();
  await page.waitForURL(/\/onboardings\/[^/]+$/);

  // Assert: the run page's timeline, and Exchange's own state
  await page.getByText("mailbox access: 1 list(s), 1 shared mailbox(es), 0 not done").waitFor();
  const record = await app.record("onboarding", idFromUrl(page.url()));
  assert.equal(record.status, "completed", JSON.stringify(record));
  const exchange = (await app.json("/sandbox/state")).exchange;
  const list = exchange.distribution_groups.find((g) => g.DisplayName === "Contoso Announcements");
  assert.deepEqual(list.Members.map((m) => m.toLowerCase()), ["mmail@contoso.com"], JSON.stringify(list));
  const info = exchange.mailboxes.find((m) => m.UserPrincipalName === "info@contoso.com");
  assert.deepEqual(info.SendAs.map((m) => m.toLowerCase()), ["mmail@contoso.com"], JSON.stringify(info));
});
