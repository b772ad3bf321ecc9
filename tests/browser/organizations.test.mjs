// The organizations pages (issue 17): each variable's effective value and where it
// comes from (the organization's own setting, MSP-wide, or the built-in default).

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { TEST_TIMEOUT_MS, contosoConfig, launchChromium, newPage, startServer } from "./harness.mjs";

let browser;
before(async () => {
  browser = await launchChromium();
});
after(() => browser?.close());

/** The value and source cells of variable `name`'s row. */
async function row(page, name) {
  const cells = page.locator(`#variables tr[data-variable="${name}"] td`);
  return { value: (await cells.nth(1).innerText()).trim(), from: (await cells.nth(2).innerText()).trim() };
}

test("an organization's page says where each variable's value comes from", { timeout: TEST_TIMEOUT_MS }, async (t) => {
  // Arrange: time_zone MSP-wide (contosoConfig sets it), approval for Contoso only.
  const app = await startServer(t, { config: contosoConfig("require_approval_for_new_users = 1\npassword_length = 20") });
  const page = await newPage(t, browser);
  await page.goto(app.url("/"));

  // Act: from the dashboard's navigation, as a technician finds it.
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Organizations" }).click();
  await page.getByRole("link", { name: "Contoso" }).click();
  await page.waitForURL(/\/organizations\/contoso$/);

  // Assert
  assert.deepEqual(await row(page, "require_approval_for_new_users"), { value: "true", from: "organization" });
  assert.deepEqual(await row(page, "password_length"), { value: "20", from: "organization" });
  assert.deepEqual(await row(page, "time_zone"), { value: "UTC", from: "MSP-wide" });
  assert.deepEqual(await row(page, "username_format"), { value: "firstinitiallastname", from: "built-in default" });

  // Act: only what is set for this organization.
  await page.selectOption("#source", "organization");
  await page.getByRole("button", { name: "Show" }).click();
  await page.waitForURL(/source=organization/);
  const sources = await page.locator("#variables tbody tr").evaluateAll((trs) => trs.map((tr) => tr.dataset.source));
  assert.ok(sources.length >= 2, "the organization's own settings are listed");
  assert.deepEqual([...new Set(sources)], ["organization"]);
});

test("an organization that is not configured answers 404", { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const app = await startServer(t, { config: contosoConfig() });
  const page = await newPage(t, browser);
  assert.equal((await page.goto(app.url("/organizations/fabrikam-nope"))).status(), 404);
});
