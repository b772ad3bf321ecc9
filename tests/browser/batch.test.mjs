// The console's batches (issue 21): a CSV file chosen in the page, its rows
// checked (bad ones named, nothing started), then started once and followed.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { TEST_TIMEOUT_MS, launchChromium, newPage, startServer } from "./harness.mjs";

let browser;
before(async () => {
  browser = await launchChromium();
});
after(() => browser?.close());

const CSV = [
  "organization,first_name,last_name,groups",
  "contoso,Odile,Batpga,All Staff",
  "contoso,Odile,,All Staff",
  "contoso,Odile,Batpgc,All Staff;Sales",
].join("\n") + "\n";

test("a CSV chosen in the page is checked row by row, then started once and followed", { timeout: TEST_TIMEOUT_MS }, async (t) => {
  // Arrange
  const app = await startServer(t);
  const page = await newPage(t, browser);
  await page.goto(app.url("/"));
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Batches" }).click();
  await page.waitForURL(/\/batches\/new$/);

  // Act: choose the file, check the rows
  await page.setInputFiles("#csv-file", { name: "new-office.csv", mimeType: "text/csv", buffer: Buffer.from(CSV) });
  await page.waitForFunction(() => document.getElementById("csv").value.includes("Batpgc"));
  await page.getByRole("button", { name: "Check the rows" }).click();

  // Assert: the good rows' plans, the bad row's error, nothing started
  await page.locator("#batch-plan-summary").getByText("2 rows would start, 1 rejected. Nothing was started.").waitFor();
  assert.match(await page.locator('#plans tr[data-row="1"]').innerText(), /obatpga@contoso\.com/);
  assert.match(await page.locator('#plans tr[data-row="3"]').innerText(), /join Sales/);
  assert.match(await page.locator('#rejected tr[data-row="2"]').innerText(), /last_name\s+is required/);
  assert.equal((await app.usersNamed("obatpg")).length, 0, "checking started nothing");

  // Act: start it; then the same file again, as a second technician might
  await page.getByRole("button", { name: "Start the batch" }).click();
  await page.waitForURL(/\/batches\/[0-9a-f-]+$/);
  const batchUrl = page.url();
  await page.goto(app.url("/batches/new"));
  await page.setInputFiles("#csv-file", { name: "new-office.csv", mimeType: "text/csv", buffer: Buffer.from(CSV) });
  await page.waitForFunction(() => document.getElementById("csv").value.includes("Batpgc"));
  await page.getByRole("button", { name: "Start the batch" }).click();
  await page.waitForURL(/\/batches\/[0-9a-f-]+$/);
  assert.equal(page.url(), batchUrl, "the same file is the same batch");

  // Assert: the runs, followed to the end
  await app.advance(60);
  await page.reload();
  await page.locator("#batch-state").getByText("No run of this batch is running now.").waitFor();
  const statuses = await page.locator("#batch-rows td.status").allInnerTexts();
  assert.deepEqual(statuses, ["completed", "completed"]);
  assert.match(await page.locator('#rejected tr[data-row="2"]').innerText(), /last_name/);
  assert.equal((await app.usersNamed("obatpg")).length, 2, "each good row onboarded once");

  // And: a row's run opens its page
  await page.locator('#batch-rows tr[data-row="1"] a').click();
  await page.waitForURL(/\/onboardings\/[^/]+$/);
});

test("a file that is not a batch is refused on the page, naming the problem", { timeout: TEST_TIMEOUT_MS }, async (t) => {
  // Arrange
  const app = await startServer(t);
  const page = await newPage(t, browser);
  await page.goto(app.url("/batches/new"));

  // Act: an unknown column, pasted
  await page.fill("#csv", "organization,first_name,last_name,shoe_size\ncontoso,Odile,Batpgz,42\n");
  await page.getByRole("button", { name: "Start the batch" }).click();

  // Assert
  await page.getByRole("alert").getByText(/shoe_size/).waitFor();
  assert.equal(await page.inputValue("#csv"), "organization,first_name,last_name,shoe_size\ncontoso,Odile,Batpgz,42\n", "what was sent is kept");
  assert.equal((await app.usersNamed("obatpg")).length, 0);
});
