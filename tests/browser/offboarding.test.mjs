// The offboarding form at `/offboard`, with the organization's approval on.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { TEST_TIMEOUT_MS, contosoConfig, idFromUrl, launchChromium, newPage, startServer, statusOn } from "./harness.mjs";

let browser;
before(async () => {
  browser = await launchChromium();
});
after(() => browser?.close());

const OFFBOARDING_APPROVAL =
  'require_approval_for_offboarding_users = 1\noffboarding_user_approval_email = ["approvals@contoso.com"]';

test("an offboarding sent from the form and approved through the mailed link disables the account", { timeout: TEST_TIMEOUT_MS }, async (t) => {
  // Arrange
  const app = await startServer(t, { config: contosoConfig(OFFBOARDING_APPROVAL) });
  const page = await newPage(t, browser);
  await page.goto(app.url("/offboard"));
  await page.selectOption("#organization", "contoso");
  await page.fill("#user_principal_name", "AlexW@contoso.com");
  await page.getByRole("button", { name: "Start offboarding" }).click();
  await page.waitForURL(/\/offboardings\/[^/]+$/);
  const id = idFromUrl(page.url());
  assert.equal(await statusOn(page), "pending_approval");
  assert.equal((await app.graphUser("AlexW@contoso.com")).accountEnabled, true, "nothing done before the approval");
  const approve = await app.outboxLink("approve");
  assert.ok(approve, "an approve link in the mail");

  // Act
  await page.goto(approve);
  assert.match(await page.locator("body").innerText(), /Alex Wilber|AlexW@contoso\.com/i);
  await page.getByRole("button", { name: "Approve", exact: true }).click();
  await page.getByRole("heading", { name: "Decided" }).waitFor();

  // Assert
  assert.match(await page.locator("body").innerText(), /Done: approved by approvals@contoso\.com/);
  const record = await app.settle("offboarding", id);
  assert.equal(record.status, "completed", JSON.stringify(record));
  assert.equal((await app.graphUser("AlexW@contoso.com")).accountEnabled, false);
  await page.goto(app.url(`/offboardings/${id}`));
  assert.equal(await statusOn(page), "completed");
});
