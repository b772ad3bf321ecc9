// Templates (issue 21): made from an existing user on the organization's page,
// then chosen on the new-user form, whose plan and run get the template's fields.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { TEST_TIMEOUT_MS, idFromUrl, launchChromium, newPage, startServer } from "./harness.mjs";

let browser;
before(async () => {
  browser = await launchChromium();
});
after(() => browser?.close());

test("a template made from a user on the organization's page fills the new-user form", { timeout: TEST_TIMEOUT_MS }, async (t) => {
  // Arrange
  const app = await startServer(t);
  const page = await newPage(t, browser);
  await page.goto(app.url("/organizations/contoso"));
  await page.locator("#no-templates").waitFor();

  // Act: a template like Alex, typed and clicked
  await page.fill("#template-name", "like alex");
  await page.fill("#template-from_user", "AlexW@contoso.com");
  await page.getByRole("button", { name: "Make the template" }).click();
  await page.waitForURL(/\/organizations\/contoso#templates$/);

  // Assert: it is listed with Alex's groups, licence and manager
  const row = page.locator('#template-list tr[data-template="like alex"]');
  await row.waitFor();
  const text = await row.innerText();
  assert.match(text, /All Staff, Sales/);
  assert.match(text, /O365_BUSINESS_PREMIUM/);
  assert.match(text, /adelev@contoso\.com/i);

  // Act: the new-user form, the template chosen, nothing else but a name
  await page.goto(app.url("/"));
  await page.selectOption("#organization", "contoso");
  await page.selectOption("#template", "like alex");
  await page.fill("#first_name", "Imogen");
  await page.fill("#last_name", "Achebe");

  // Assert: the plan shows what the template brings before anything starts
  const plan = page.locator("#plan-body");
  await plan.getByText("Sales: found").waitFor();
  await plan.getByText(/O365_BUSINESS_PREMIUM/).waitFor();

  // Act: submit
  await page.getByRole("button", { name: "Start onboarding" }).click();
  await page.waitForURL(/\/onboardings\/[^/]+$/);

  // Assert: the user got the template's groups
  const record = await app.record("onboarding", idFromUrl(page.url()));
  assert.equal(record.status, "completed", JSON.stringify(record));
  const [user] = await app.usersNamed("iachebe");
  assert.ok(user, "the user was created");
  const groups = await app.graph(`/users/${user.id}/memberOf`);
  const names = groups.value.map((g) => g.displayName);
  assert.ok(names.includes("Sales") && names.includes("All Staff"), JSON.stringify(names));
});

test("a template form with a taken name or an unknown user says so beside the fields and makes nothing", { timeout: TEST_TIMEOUT_MS }, async (t) => {
  // Arrange
  const app = await startServer(t);
  const page = await newPage(t, browser);
  await page.goto(app.url("/organizations/contoso"));

  // Act: a user who does not exist
  await page.fill("#template-name", "ghost");
  await page.fill("#template-from_user", "nobody@contoso.com");
  await page.getByRole("button", { name: "Make the template" }).click();

  // Assert
  const alert = page.getByRole("alert");
  await alert.getByText(/no user `nobody@contoso\.com`/).waitFor();
  assert.equal(await page.inputValue("#template-name"), "ghost", "what was typed is kept");
  assert.deepEqual(await app.json("/api/organizations/contoso/templates"), []);

  // Act: the same name twice
  await page.fill("#template-from_user", "AdeleV@contoso.com");
  await page.getByRole("button", { name: "Make the template" }).click();
  await page.locator('#template-list tr[data-template="ghost"]').waitFor();
  await page.fill("#template-name", "ghost");
  await page.fill("#template-from_user", "AlexW@contoso.com");
  await page.getByRole("button", { name: "Make the template" }).click();

  // Assert: refused, and the first one is unchanged
  await page.getByRole("alert").getByText(/has a template `ghost` already/).waitFor();
  const [ghost] = await app.json("/api/organizations/contoso/templates");
  assert.match(ghost.template.description, /AdeleV@contoso\.com/);
});
