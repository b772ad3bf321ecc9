// Takes the README's screenshots (docs/screenshots/*.png) of the console on a fresh
// `onboard serve --sandbox --virtual-clock`, in Debian's Chromium, with a few runs
// in it: `node scripts/screenshots.mjs` (after `scripts/test-browser` installed
// playwright-core; ONBOARD_BIN names the binary, default target/debug/onboard).

import { join } from "node:path";

import { REPO_ROOT, contosoConfig, launchChromium, startServer } from "../tests/browser/harness.mjs";

const OUT = join(REPO_ROOT, "docs", "screenshots");

/** What startServer needs of a test context: somewhere to put its clean-up. */
const cleanups = [];
const context = { after: (fn) => cleanups.push(fn) };

async function onboard(app, form) {
  const answer = await app.json("/api/onboardings", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ organization: "contoso", ...form }),
  });
  return answer.id;
}

const app = await startServer(context, {
  config: contosoConfig('allow_scheduled_user_creation = 1\ntime_zone = "Europe/Berlin"\nnew_user_approval_email = "approvals@contoso.com"'),
});
const browser = await launchChromium();
try {
  const now = new Date((await app.json("/sandbox/clock")).now);
  const inDays = (d) => new Date(now.getTime() + d * 24 * 3600 * 1000).toISOString().slice(0, 10);
  await onboard(app, { first_name: "Ada", last_name: "Lovelace", licenses: ["O365_BUSINESS_PREMIUM"], groups: ["Sales"] });
  await onboard(app, { first_name: "Grace", last_name: "Hopper", start_date: inDays(7) });
  const waiting = await onboard(app, { first_name: "Alan", last_name: "Turing", licenses: ["SPB"], license_purchase: "manual" });
  const page = await (await browser.newContext({ viewport: { width: 1200, height: 900 } })).newPage();

  await page.goto(app.url("/"));
  await page.screenshot({ path: join(OUT, "dashboard.png") });

  await page.goto(app.url("/#new-user"));
  await page.selectOption("#organization", "contoso");
  await page.fill("#first_name", "Ada");
  await page.fill("#last_name", "Lovelace");
  await page.getByRole("checkbox", { name: /Microsoft 365 Business Premium/ }).check();
  await page.locator("#plan-body li").first().waitFor();
  await page.locator("#onboarding-form").scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(OUT, "new-user-plan.png"), fullPage: true });

  await page.goto(app.url(`/onboardings/${waiting}`));
  await page.screenshot({ path: join(OUT, "run.png"), fullPage: true });

  await page.goto(app.url("/organizations/contoso"));
  await page.screenshot({ path: join(OUT, "organization.png") });

  await page.goto(app.url("/sandbox"));
  await page.screenshot({ path: join(OUT, "sandbox.png") });
  console.log(`screenshots in ${OUT}`);
} finally {
  await browser.close();
  for (const fn of cleanups.reverse()) await fn();
}
