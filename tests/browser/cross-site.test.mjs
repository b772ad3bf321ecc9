// Another site the person happens to have open (here on 127.0.0.2) tries to make
// their browser start an offboarding or an onboarding on the local server
// (127.0.0.1): with a script's no-cors fetch, and with auto-submitting forms. The
// server must answer, and nothing may change.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { TEST_TIMEOUT_MS, launchChromium, newPage, startOtherSite, startServer } from "./harness.mjs";

let browser;
before(async () => {
  browser = await launchChromium();
});
after(() => browser?.close());

const ALEX = { organization: "contoso", user_principal_name: "AlexW@contoso.com" };

/** What an attack could have changed: Alex's account, the users, the mail, the tickets. */
async function observe(app) {
  return {
    alexEnabled: (await app.graphUser(ALEX.user_principal_name)).accountEnabled,
    users: (await app.users()).map((u) => u.userPrincipalName).sort(),
    mails: (await app.outbox()).length,
    tickets: (await app.tickets()).length,
  };
}

/** An HTML page that posts `fields` to `action` as a form, as soon as it loads. */
function autoSubmittingForm(action, fields) {
  const inputs = Object.entries(fields)
    .map(([name, value]) => `<input type="hidden" name="${name}" value="${value}">`)
    .join("");
  return `<!doctype html><title>You won a prize</title>
<form method="post" action="${action}">${inputs}</form>
<script>document.forms[0].submit();</script>`;
}

/** Opens `page` at `url` and waits until the server has answered the POST to `target`. */
async function openAndAwaitAnswer(page, url, target) {
  const answered = page.waitForResponse((r) => r.request().method() === "POST" && r.url() === target);
  await page.goto(url);
  return answered;
}

test("a script on another site cannot start an offboarding with a no-cors fetch", { timeout: TEST_TIMEOUT_MS }, async (t) => {
  // Arrange
  const app = await startServer(t);
  const target = app.url("/api/offboardings");
  const site = await startOtherSite(t, {
    "/": `<!doctype html><title>Cat pictures</title><script>
fetch(${JSON.stringify(target)}, {
  method: "POST",
  mode: "no-cors",
  headers: { "content-type": "text/plain" },
  body: ${JSON.stringify(JSON.stringify(ALEX))},
});
</script>`,
  });
  const page = await newPage(t, browser);
  const before = await observe(app);

  // Act
  const response = await openAndAwaitAnswer(page, `${site}/`, target);
  await app.advance(3600);

  // Assert
  assert.deepEqual(await observe(app), before, "nothing changed");
  assert.equal(before.alexEnabled, true);
  assert.ok([403, 415].includes(response.status()), `refused, not ${response.status()}`);
});

test("an auto-submitting form on another site cannot start an offboarding", { timeout: TEST_TIMEOUT_MS }, async (t) => {
  // Arrange
  const app = await startServer(t);
  const target = app.url("/offboardings");
  const site = await startOtherSite(t, { "/": autoSubmittingForm(target, ALEX) });
  const page = await newPage(t, browser);
  const before = await observe(app);

  // Act
  const response = await openAndAwaitAnswer(page, `${site}/`, target);
  await app.advance(3600);

  // Assert
  assert.deepEqual(await observe(app), before, "nothing changed");
  assert.equal(before.alexEnabled, true);
  assert.equal(response.status(), 403);
});

test("an auto-submitting form on another site cannot start an onboarding", { timeout: TEST_TIMEOUT_MS }, async (t) => {
  // Arrange
  const app = await startServer(t);
  const target = app.url("/onboardings");
  const site = await startOtherSite(t, {
    "/": autoSubmittingForm(target, { organization: "contoso", first_name: "Mallory", last_name: "Intruder" }),
  });
  const page = await newPage(t, browser);
  const before = await observe(app);

  // Act
  const response = await openAndAwaitAnswer(page, `${site}/`, target);
  await app.advance(3600);

  // Assert
  assert.deepEqual(await observe(app), before, "nothing changed");
  assert.equal((await app.usersNamed("mintruder")).length, 0);
  assert.equal(response.status(), 403);
});
