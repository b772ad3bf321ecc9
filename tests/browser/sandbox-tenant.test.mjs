// The sandbox's own page (issue 17): what a run did to the simulated tenant, seen
// the way a newcomer looks at it after submitting the form.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { TEST_TIMEOUT_MS, contosoConfig, launchChromium, newPage, startServer } from "./harness.mjs";

let browser;
before(async () => {
  browser = await launchChromium();
});
after(() => browser?.close());

/** The rows of the page's section `id`, as arrays of cell texts. */
function rows(page, id) {
  return page
    .locator(`#${id} tbody tr`)
    .evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => td.innerText.trim())));
}

test("the sandbox page shows the user a run created, the seat it took and the ticket's notes", { timeout: TEST_TIMEOUT_MS }, async (t) => {
  // Arrange
  const app = await startServer(t, { config: contosoConfig() });
  const page = await newPage(t, browser);
  await page.goto(app.url("/sandbox"));
  const seatsBefore = await rows(page, "seats");
  await page.goto(app.url("/"));
  await page.selectOption("#organization", "contoso");
  await page.fill("#first_name", "Tenny");
  await page.fill("#last_name", "Page");
  await page.getByRole("checkbox", { name: /Microsoft 365 Business Standard/ }).check();
  await page.getByRole("button", { name: "Start onboarding" }).click();
  await page.waitForURL(/\/onboardings\/[^/]+$/);

  // Act
  await page.goto(app.url("/sandbox"));

  // Assert
  const user = (await rows(page, "users")).find((r) => r[0] === "Tenny Page");
  assert.ok(user, "the new user is in the directory");
  assert.match(user[1], /^tpage@contoso\.com$/i);
  assert.equal(user[3], "O365_BUSINESS_PREMIUM");
  const premium = (r) => r.find((s) => s[1] === "O365_BUSINESS_PREMIUM");
  assert.equal(Number(premium(await rows(page, "seats"))[2]), Number(premium(seatsBefore)[2]) + 1, "one more seat used");
  const ticket = (await rows(page, "tickets")).find((r) => r[2] === "New user: Tenny Page");
  assert.ok(ticket, "the run's ticket is listed");
  assert.match(ticket[4], /Created Tenny Page as tpage@contoso\.com/i);
  assert.equal(await page.getByRole("heading", { name: "Mail and SMS sent" }).count(), 1);
});
