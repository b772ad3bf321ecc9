// The onboarding form at `/`, filled in and sent as a person does it.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { TEST_TIMEOUT_MS, idFromUrl, launchChromium, newPage, startServer, statusOn } from "./harness.mjs";

let browser;
before(async () => {
  browser = await launchChromium();
});
after(() => browser?.close());

test("a filled-in onboarding form starts the onboarding and its page shows the status", { timeout: TEST_TIMEOUT_MS }, async (t) => {
  // Arrange
  const app = await startServer(t);
  const page = await newPage(t, browser);
  await page.goto(app.url("/"));

  // Act
  await page.selectOption("#organization", "contoso");
  await page.fill("#first_name", "Ada");
  await page.fill("#last_name", "Lovelace");
  await page.fill("#job_title", "Analyst");
  await page.fill("#manager_email", "AdeleV@contoso.com");
  await page.fill("#licenses", "O365_BUSINESS_PREMIUM");
  await page.fill("#groups", "All Staff");
  await page.getByRole("button", { name: "Start onboarding" }).click();
  await page.waitForURL(/\/onboardings\/[^/]+$/);

  // Assert
  const id = idFromUrl(page.url());
  const record = await app.record("onboarding", id);
  assert.equal(record.status, "completed", JSON.stringify(record));
  assert.equal(await statusOn(page), "completed");
  assert.equal((await app.usersNamed("alovelace")).length, 1);
});

test("a form without its last name is refused beside the field and keeps what was typed", { timeout: TEST_TIMEOUT_MS }, async (t) => {
  // Arrange
  const app = await startServer(t);
  const page = await newPage(t, browser);
  await page.goto(app.url("/"));
  const usersBefore = (await app.users()).length;

  // Act
  await page.selectOption("#organization", "contoso");
  await page.fill("#first_name", "Nolast");
  await page.fill("#job_title", "Analyst");
  const answer = page.waitForResponse((r) => r.request().method() === "POST" && r.url() === app.url("/onboardings"));
  await page.getByRole("button", { name: "Start onboarding" }).click();
  const response = await answer;

  // Assert
  assert.equal(response.status(), 400);
  const error = page.locator("#last_name-error");
  assert.ok(await error.isVisible(), "#last_name-error is shown");
  assert.match(await error.textContent(), /\p{L}+/u, "the error says something");
  assert.equal(await page.locator("#last_name + p.field-error#last_name-error").count(), 1, "right after its input");
  assert.equal(await page.locator("#last_name").getAttribute("aria-invalid"), "true");
  assert.equal(await page.inputValue("#first_name"), "Nolast");
  assert.equal(await page.inputValue("#job_title"), "Analyst");
  assert.equal((await app.users()).length, usersBefore, "nothing was started");
});

test("a same-origin form sent without its csrf_token is refused with 403 and a page in plain words", { timeout: TEST_TIMEOUT_MS }, async (t) => {
  // Arrange
  const app = await startServer(t);
  const page = await newPage(t, browser);
  await page.goto(app.url("/"));
  const token = page.locator('form[action="/onboardings"] input[type="hidden"][name="csrf_token"]');
  assert.equal(await token.count(), 1, "the form carries a hidden csrf_token");
  const usersBefore = (await app.users()).length;
  await page.selectOption("#organization", "contoso");
  await page.fill("#first_name", "Cee");
  await page.fill("#last_name", "Surf");

  // Act
  await token.evaluate((input) => input.remove());
  const answer = page.waitForResponse((r) => r.request().method() === "POST" && r.url() === app.url("/onboardings"));
  await page.getByRole("button", { name: "Start onboarding" }).click();
  const response = await answer;

  // Assert
  assert.equal(response.status(), 403);
  assert.match(response.headers()["content-type"] ?? "", /^text\/html/);
  const words = await page.locator("body").innerText();
  assert.match(words, /\p{L}+ \p{L}+ \p{L}+/u, `a sentence, not a code: ${words}`);
  assert.doesNotMatch(words, /^\s*[{[]/, "not JSON");
  assert.equal((await app.users()).length, usersBefore, "nothing was started");
  assert.equal((await app.usersNamed("csurf")).length, 0);
});
