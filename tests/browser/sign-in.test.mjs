// Signing in to the console with Microsoft, as an MSP's people do: the server is
// configured with `[server.sign_in]` against the sandbox's Entra issuer (on the
// same server), API keys are required for machines, and every person signs in on
// the issuer's page by picking who they are. Roles come from the people's app
// roles (Onboard.Technician, Onboard.Approver, Onboard.Viewer).

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { rm, writeFile } from "node:fs/promises";
import net from "node:net";
import { networkInterfaces, tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";

import {
  TEST_TIMEOUT_MS,
  contosoConfig,
  idFromUrl,
  launchChromium,
  newPage,
  startOtherSite,
  startServer,
  statusOn,
} from "./harness.mjs";

/** The API key the helpers use; the configuration holds its SHA-256 only. */
const API_KEY = "sign-in-test-key-0123456789";
/** The sandbox's other tenant (Litware), whose people Onboard must refuse. */
const OTHER_TENANT = "a7e2c9d4-3b6f-4e18-8d5a-6f0b2c4e9a13";
/** The sandbox's MSP tenant (Northwind IT), whose people sign in. */
const MSP_TENANT = "5c0f3a52-8d1e-4b7a-9c2f-1e6d4a8b3f70";

let browser;
before(async () => {
  browser = await launchChromium();
});
after(() => browser?.close());

/** A server that signs people in through its own sandbox issuer, approvals required. */
function startSignedIn(t, extra = "") {
  const sha = createHash("sha256").update(API_KEY).digest("hex");
  const config = `
[server]
api_key_sha256 = ["${sha}"]

[server.sign_in]
issuer = "sandbox"
${extra}
${contosoConfig("require_approval_for_new_users = 1")}`;
  return startServer(t, { config, apiKey: API_KEY });
}

/** Opens `path`; signed out, that leads to the issuer's page, where `name` is picked. */
async function signInAs(page, app, name, path = "/") {
  await page.goto(app.url(path));
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
  assert.match(page.url(), /\/sandbox\/entra\/organizations\/oauth2\/v2\.0\/authorize\?/);
  await page.getByRole("button", { name: new RegExp(`^${name}`) }).click();
}

/** Fills the onboarding form for `first last` and sends it; answers the record id. */
async function requestUser(page, first, last) {
  await page.selectOption("#organization", "contoso");
  await page.fill("#first_name", first);
  await page.fill("#last_name", last);
  await page.getByRole("button", { name: "Start onboarding" }).click();
  await page.waitForURL(/\/onboardings\/[^/]+$/);
  return idFromUrl(page.url());
}

test("a technician signs in and submits, an approver approves in the console, a viewer is refused", { timeout: TEST_TIMEOUT_MS * 2 }, async (t) => {
  // Arrange
  const app = await startSignedIn(t);

  // Act: the technician signs in on the way to the dashboard and asks for a user.
  const tom = await newPage(t, browser);
  await signInAs(tom, app, "Tom Technician");
  await tom.waitForURL(app.url("/"));
  const id = await requestUser(tom, "Grace", "Hopper");
  assert.equal(await statusOn(tom), "pending_approval");
  assert.match(await tom.locator("#timeline").innerText(), /submitted in the console by Tom Technician \(tom@northwind-it\.example\)/);

  // Act: the approver signs in on the way to the pending approvals and approves there.
  const ann = await newPage(t, browser);
  await signInAs(ann, app, "Ann Approver", "/approvals");
  await ann.waitForURL(app.url("/approvals"));
  const row = ann.locator(`#pending tr[data-id="${id}"]`);
  assert.equal(await row.getByRole("link", { name: "Approve" }).count(), 0, "no signed link: the button decides in Ann's name");
  await row.getByRole("button", { name: "Approve", exact: true }).click();
  await ann.waitForURL(new RegExp(`/onboardings/${id}\\?done=decided$`));

  // Assert
  assert.match(await ann.locator("#timeline").innerText(), /approved by Ann Approver \(ann@northwind-it\.example\) in the console/);
  const record = await app.settle("onboarding", id);
  assert.equal(record.status, "completed", JSON.stringify(record));
  assert.equal((await app.usersNamed("ghopper")).length, 1);
  const notes = (await app.ticketNotes(record.ticket_id)).map((n) => n.text).join("\n");
  assert.match(notes, /submitted in the console by Tom Technician \(tom@northwind-it\.example\)/);
  assert.match(notes, /Ann Approver \(ann@northwind-it\.example\) in the console/);

  // Act: a viewer sees the dashboard but cannot submit.
  const vera = await newPage(t, browser);
  await signInAs(vera, app, "Vera Viewer");
  await vera.waitForURL(app.url("/"));
  await vera.selectOption("#organization", "contoso");
  await vera.fill("#first_name", "Not");
  await vera.fill("#last_name", "Allowed");
  const [answer] = await Promise.all([
    vera.waitForResponse((r) => r.url() === app.url("/onboardings") && r.request().method() === "POST"),
    vera.getByRole("button", { name: "Start onboarding" }).click(),
  ]);

  // Assert: refused in plain words, and nothing was asked for.
  assert.equal(answer.status(), 403);
  await vera.getByRole("heading", { name: "Not allowed" }).waitFor();
  const words = await vera.locator("body").innerText();
  assert.match(words, /signed in as Vera Viewer \(vera@northwind-it\.example\), with the role viewer/);
  assert.match(words, /needs the technician role\. Nothing was done/);
  assert.equal((await app.usersNamed("nallowed")).length, 0);
  const listed = await app.json("/api/onboardings");
  assert.equal(listed.items.length, 1, JSON.stringify(listed));
});

test("a person of another tenant is refused and stays signed out", { timeout: TEST_TIMEOUT_MS }, async (t) => {
  // Arrange
  const app = await startSignedIn(t);
  const page = await newPage(t, browser);

  // Act
  await signInAs(page, app, "Otto Outsider");
  await page.getByRole("heading", { name: "Sign-in failed" }).waitFor();

  // Assert
  assert.match(await page.locator("body").innerText(), new RegExp(`Accounts of tenant ${OTHER_TENANT} may not sign in here`));
  await page.goto(app.url("/"));
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
  assert.match(page.url(), /\/sandbox\/entra\//, "still signed out: the dashboard sends to the issuer again");
});

for (const flaw of ["expired", "tampered", "wrong_audience", "wrong_nonce"]) {
  test(`an ID token that is ${flaw.replace("_", " ")} is refused`, { timeout: TEST_TIMEOUT_MS }, async (t) => {
    // Arrange: the issuer spoils the next ID token it gives.
    const app = await startSignedIn(t);
    const spoiled = await fetch(app.url("/sandbox/entra/next-id-token"), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ flaw }),
    });
    assert.equal(spoiled.status, 204);
    const page = await newPage(t, browser);

    // Act
    await signInAs(page, app, "Tom Technician");
    await page.getByRole("heading", { name: "Sign-in failed" }).waitFor();

    // Assert
    assert.match(await page.locator("body").innerText(), /The ID token is not valid/);
    await page.goto(app.url("/auth/account"));
    assert.match(await page.locator("body").innerText(), /You are not signed in/);
  });
}

test("a person without an Onboard role is told so in plain words", { timeout: TEST_TIMEOUT_MS }, async (t) => {
  // Arrange
  const app = await startSignedIn(t);
  const page = await newPage(t, browser);

  // Act
  await signInAs(page, app, "Nia Noroles");
  await page.getByRole("heading", { name: "Not allowed" }).waitFor();

  // Assert
  const words = await page.locator("body").innerText();
  assert.match(words, /signed in as Nia Noroles \(nia@northwind-it\.example\), with no Onboard role/);
  assert.match(words, /Onboard\.Viewer/);
});

test("signing out ends the session, and the old cookie opens nothing", { timeout: TEST_TIMEOUT_MS }, async (t) => {
  // Arrange
  const app = await startSignedIn(t);
  const page = await newPage(t, browser);
  await signInAs(page, app, "Tom Technician");
  await page.waitForURL(app.url("/"));
  const cookies = await page.context().cookies(app.base);
  const session = cookies.find((c) => c.name === "onboard_session");
  assert.ok(session, JSON.stringify(cookies));
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, "Lax");

  // Act: from the dashboard's navigation, as people find it.
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Your account" }).click();
  await page.waitForURL(app.url("/auth/account"));
  assert.equal(await page.locator("#person").innerText(), "Tom Technician");
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByRole("heading", { name: "Signed out" }).waitFor();

  // Assert: this browser is signed out, and a copy of the old cookie is worthless.
  await page.goto(app.url("/"));
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
  const replay = await fetch(app.url("/"), { headers: { cookie: `onboard_session=${session.value}` }, redirect: "manual" });
  assert.equal(replay.status, 303);
  assert.match(replay.headers.get("location"), /^\/auth\/sign-in\?return_to=/);
});

test("a session ends after an hour without a request, on the virtual clock", { timeout: TEST_TIMEOUT_MS }, async (t) => {
  // Arrange
  const app = await startSignedIn(t);
  const page = await newPage(t, browser);
  await signInAs(page, app, "Tom Technician");
  await page.waitForURL(app.url("/"));

  // Act: 59 minutes later the session is still there (and slides on)...
  await app.advance(59 * 60);
  await page.goto(app.url("/auth/account"));
  assert.equal(await page.locator("#person").innerText(), "Tom Technician");
  // ...59 more minutes later too (it slid at the last request), then 61 idle minutes end it.
  await app.advance(59 * 60);
  await page.goto(app.url("/auth/account"));
  assert.equal(await page.locator("#person").innerText(), "Tom Technician");
  await app.advance(61 * 60);

  // Assert
  await page.goto(app.url("/"));
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
});

test("another website cannot post the signed-in technician's forms", { timeout: TEST_TIMEOUT_MS }, async (t) => {
  // Arrange: Tom is signed in; another site's page posts the onboarding form here.
  const app = await startSignedIn(t);
  const page = await newPage(t, browser);
  await signInAs(page, app, "Tom Technician");
  await page.waitForURL(app.url("/"));
  const other = await startOtherSite(t, {
    "/": `<form method="post" action="${app.url("/onboardings")}">
      <input name="organization" value="contoso"><input name="first_name" value="Evil">
      <input name="last_name" value="Twin"><button>go</button></form>`,
  });

  // Act
  await page.goto(other);
  const [answer] = await Promise.all([
    page.waitForResponse((r) => r.url() === app.url("/onboardings")),
    page.getByRole("button", { name: "go" }).click(),
  ]);

  // Assert
  assert.equal(answer.status(), 403);
  assert.equal((await app.json("/api/onboardings")).items.length, 0);
});

test("machines use API keys: /api/* refuses a request with neither a key nor a session", { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const app = await startSignedIn(t);
  const anonymous = await fetch(app.url("/api/onboardings"));
  assert.equal(anonymous.status, 401);
  const keyed = await fetch(app.url("/api/onboardings"), { headers: { authorization: `Bearer ${API_KEY}` } });
  assert.equal(keyed.status, 200);
});

/** This machine's first non-loopback IPv4 address. */
function lanAddress() {
  const found = Object.values(networkInterfaces())
    .flat()
    .find((a) => a && a.family === "IPv4" && !a.internal);
  assert.ok(found, "this machine has no non-loopback IPv4 address to listen on");
  return found.address;
}

/** A port free on `host` just now (the server is started on it right after). */
async function freePort(host) {
  const probe = net.createServer();
  probe.listen(0, host);
  await new Promise((done) => probe.once("listening", done));
  const { port } = probe.address();
  await new Promise((done) => probe.close(done));
  return port;
}

test("on a non-loopback address with [server.sign_in] the console is served to signed-in people only", { timeout: TEST_TIMEOUT_MS * 2 }, async (t) => {
  // Arrange: a separate issuer (another onboard serve's sandbox, on loopback) with
  // an app registered for this server's redirect URI, and the server on the LAN
  // address with no API keys: only sign-in opens it. (Its own sandbox answers
  // loopback clients only, and its demo issuer is refused off loopback.)
  const host = lanAddress();
  const port = await freePort(host);
  const issuer = await startServer(t, {
    config: `
[sandbox.entra]
apps = [{ client_id = "onboard-lan", client_secret = "lan-secret", home_tenant = "${MSP_TENANT}", multi_tenant = true, redirect_uris = ["http://${host}:${port}/auth/callback"] }]
`,
  });
  const secret = join(tmpdir(), `onboard-sign-in-secret-${port}`);
  await writeFile(secret, "lan-secret");
  t.after(() => rm(secret, { force: true }));
  const app = await startServer(t, {
    addr: `${host}:${port}`,
    config: `
[server.sign_in]
issuer = "${issuer.url("/sandbox/entra/organizations/v2.0")}"
client_id = "onboard-lan"
client_secret = "file:${secret}"
allowed_tenants = ["${MSP_TENANT}"]
${contosoConfig()}`,
  });
  assert.equal(new URL(app.base).hostname, host);

  // Act / Assert: signed out, the API and the pages refuse.
  assert.equal((await fetch(app.url("/api/onboardings"))).status, 401);
  const page = await newPage(t, browser);
  await page.goto(app.url("/"));
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
  assert.ok(page.url().startsWith(issuer.base), page.url());

  // Act: the technician signs in at the issuer and lands on the dashboard.
  await page.getByRole("button", { name: /^Tom Technician/ }).click();
  await page.waitForURL(app.url("/"));

  // Assert
  await page.getByRole("button", { name: "Start onboarding" }).waitFor();
  await page.goto(app.url("/auth/account"));
  assert.equal(await page.locator("#person").innerText(), "Tom Technician");
  assert.equal(await page.locator("#roles").innerText(), "technician");
  const organizations = await page.goto(app.url("/organizations"));
  assert.equal(organizations.status(), 403, "settings need the admin role");
});

test("the sandbox's demo issuer is refused on a non-loopback address", { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const host = lanAddress();
  await assert.rejects(
    startServer(t, { addr: `${host}:0`, config: `[server.sign_in]\nissuer = "sandbox"\n${contosoConfig()}` }),
    /exited before listening/,
  );
});
