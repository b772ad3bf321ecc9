// What every browser test shares: the real `onboard serve --sandbox --virtual-clock`
// on a free port with a fresh data directory, Debian's Chromium driven through
// playwright-core, and typed helpers that read the server's state over HTTP (the
// sandbox's outbox, clock, Microsoft Graph and ConnectWise simulators) the way
// tests/e2e/helpers.rs does.
//
// Nothing here sleeps: time moves through the virtual clock, pages are awaited
// through their events and locators.

import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

import { chromium } from "playwright-core";

/** The repository's root (tests/browser/../..). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** The server binary: `ONBOARD_BIN` (relative to the repository root), default the debug build. */
export const ONBOARD_BIN = resolve(REPO_ROOT, process.env.ONBOARD_BIN ?? "target/debug/onboard");

/** Each test's budget; a page action or wait gives up well before it. */
export const TEST_TIMEOUT_MS = 10_000;
const PAGE_TIMEOUT_MS = 5_000;

/** The demo tenant's app registration and the simulators' default credentials
 *  (the sandbox's own, documented in crates/sandbox/examples/sandbox.toml). */
const TENANT = "contoso.com";
const GRAPH_CLIENT = { id: "sandbox-client", secret: "sandbox-secret" };
const CW = {
  company: "onboard",
  publicKey: "sandbox-public",
  privateKey: "sandbox-private",
  clientId: "onboard-sandbox",
};
const PAX8_CLIENT = { id: "sandbox-pax8-client", secret: "sandbox-pax8-secret" };
/** The demo tenant's Pax8 subscription to Microsoft 365 Business Premium (`SPB`). */
const PAX8_PREMIUM_SUBSCRIPTION = "e5b7a9c1-4f6b-4d8e-8a3c-5f7b9d1e3a4c";

/** A configuration file as tests/e2e/workflow.rs writes it: the embedded defaults'
 *  ConnectWise names, an approver, and `orgVariables` (TOML lines) for Contoso. */
export function contosoConfig(orgVariables = "") {
  return `
[variables]
time_zone = "UTC"
default_psa = "connectwise"
default_ticket_location = "Service Desk"
default_ticket_status = "In Progress"
ticket_status_waiting_input = "Waiting Customer"
ticket_status_workflow_complete = "Completed"
default_priority = "Priority 3 - Normal Response"
new_user_approval_email = "approvals@contoso.com"
send_from_address = "onboarding@msp.example"

[organizations.contoso]
name = "Contoso"
domain = "contoso.com"

[organizations.contoso.variables]
${orgVariables}
`;
}

/**
 * Starts the server (with `config` as its configuration file, if given) and stops it,
 * removing its data, when test `t` ends.
 * @param {import("node:test").TestContext} t
 * @param {{config?: string, apiKey?: string, addr?: string, sandbox?: boolean}} [options]
 *   `apiKey`: what the helpers send as `Authorization: Bearer` (a server with API
 *   keys); `addr`: where it listens; `sandbox`: whether it runs the simulators.
 */
export async function startServer(t, { config, apiKey, addr = "127.0.0.1:0", sandbox = true } = {}) {
  const dir = await mkdtemp(join(tmpdir(), "onboard-browser-"));
  const args = ["serve", ...(sandbox ? ["--sandbox"] : []), "--virtual-clock", "--addr", addr, "--data", join(dir, "data")];
  if (config !== undefined) {
    const path = join(dir, "onboard.toml");
    await writeFile(path, config);
    args.push("--config", path);
  }
  const child = spawn(ONBOARD_BIN, args, {
    stdio: ["ignore", "pipe", process.env.ONBOARD_TEST_LOG ? "inherit" : "ignore"],
  });
  const server = new Server(child, dir);
  server.apiKey = apiKey;
  t.after(() => server.stop());
  server.base = await firstLine(child);
  return server;
}

/** Reads `onboard listening on http://...` from the server's stdout. */
async function firstLine(child) {
  const lines = createInterface({ input: child.stdout });
  const exited = once(child, "exit").then(([code, signal]) => {
    throw new Error(`onboard serve exited before listening (code ${code}, signal ${signal}); ONBOARD_TEST_LOG=1 shows its log`);
  });
  const failed = once(child, "error").then(([e]) => {
    throw new Error(`cannot run ${ONBOARD_BIN}: ${e.message} (build it: cargo build --bin onboard)`);
  });
  const [line] = await Promise.race([once(lines, "line"), exited, failed]);
  exited.catch(() => {});
  failed.catch(() => {});
  // Keep reading, so a chatty stdout never blocks the server.
  lines.on("line", () => {});
  const m = /^onboard listening on (http:\/\/\S+)$/.exec(line.trim());
  if (!m) throw new Error(`unexpected first line from onboard serve: ${JSON.stringify(line)}`);
  return m[1];
}

/** A running server and what its state looks like over HTTP. */
class Server {
  /** The server's origin, e.g. `http://127.0.0.1:41234`. */
  base = "";
  /** The API key its helpers send, when the server requires one. */
  apiKey = undefined;

  constructor(child, dir) {
    this.child = child;
    this.dir = dir;
  }

  async stop() {
    const running = this.child.pid !== undefined && this.child.exitCode === null && this.child.signalCode === null;
    if (running) {
      const exited = once(this.child, "exit");
      this.child.kill("SIGKILL");
      await exited;
    }
    await rm(this.dir, { recursive: true, force: true });
  }

  url(path) {
    return new URL(path, this.base).href;
  }

  async json(path, init) {
    // With API keys configured (a sign-in test's server), the helpers ask as a machine.
    const headers = new Headers(init?.headers);
    if (this.apiKey && !headers.has("authorization")) headers.set("authorization", `Bearer ${this.apiKey}`);
    const res = await fetch(this.url(path), { ...init, headers });
    const text = await res.text();
    if (!res.ok) throw new Error(`${init?.method ?? "GET"} ${path}: ${res.status} ${text}`);
    return JSON.parse(text);
  }

  /** `GET /sandbox/outbox`: every mail and SMS, oldest first.
   *  @returns {Promise<{channel: string, to: string[], subject: string, body: string, sent_at: string}[]>} */
  outbox() {
    return this.json("/sandbox/outbox");
  }

  /** The newest decision link with `action=<action>` in the outbox, or undefined. */
  async outboxLink(action) {
    for (const mail of (await this.outbox()).reverse()) {
      const link = linkIn(mail.body, action);
      if (link) return link;
    }
    return undefined;
  }

  /** `POST /sandbox/clock`: moves the virtual clock; answers once everything due has run. */
  async advance(seconds) {
    await this.json("/sandbox/clock", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ advance_seconds: seconds }),
    });
  }

  /** `GET /api/onboardings/ID` or `/api/offboardings/ID`.
   *  @param {"onboarding" | "offboarding"} kind */
  record(kind, id) {
    return this.json(`/api/${kind.replace(/s$/, "")}s/${encodeURIComponent(id)}`);
  }

  /** The record once it stopped running: the clock moves a minute at a time (at
   *  most `steps` times) while it runs or waits for a seat being provisioned. */
  async settle(kind, id, { steps = 30, waiting = ["running"] } = {}) {
    let rec = await this.record(kind, id);
    for (let i = 0; i < steps && waiting.includes(rec.status); i++) {
      await this.advance(60);
      rec = await this.record(kind, id);
    }
    return rec;
  }

  async graphToken() {
    const res = await this.json(`/sandbox/graph/login/${TENANT}/oauth2/v2.0/token`, {
      method: "POST",
      body: new URLSearchParams({
        client_id: GRAPH_CLIENT.id,
        client_secret: GRAPH_CLIENT.secret,
        grant_type: "client_credentials",
        scope: "https://graph.microsoft.com/.default",
      }),
    });
    return res.access_token;
  }

  /** `GET /sandbox/graph/v1.0{path}` as the demo tenant's app; null when Graph answers 404. */
  async graph(path) {
    const res = await fetch(this.url(`/sandbox/graph/v1.0${path}`), {
      headers: { authorization: `Bearer ${await this.graphToken()}` },
    });
    if (res.status === 404) return null;
    const text = await res.text();
    if (!res.ok) throw new Error(`graph ${path}: ${res.status} ${text}`);
    return JSON.parse(text);
  }

  /** A user of the demo tenant by UPN ({id, userPrincipalName, displayName, accountEnabled}), or null. */
  graphUser(upn) {
    return this.graph(`/users/${encodeURIComponent(upn)}?$select=id,userPrincipalName,displayName,accountEnabled`);
  }

  /** Every user of the demo tenant. */
  async users() {
    return (await this.graph("/users?$top=999&$select=id,userPrincipalName,displayName,accountEnabled")).value;
  }

  /** The users whose UPN starts with `prefix` (case-insensitive). */
  async usersNamed(prefix) {
    return (await this.users()).filter((u) => u.userPrincipalName.toLowerCase().startsWith(prefix.toLowerCase()));
  }

  /** The ConnectWise simulator's tickets. */
  tickets() {
    const auth = Buffer.from(`${CW.company}+${CW.publicKey}:${CW.privateKey}`).toString("base64");
    return this.json("/sandbox/connectwise/v4_6_release/apis/3.0/service/tickets?pageSize=1000", {
      headers: { authorization: `Basic ${auth}`, clientId: CW.clientId },
    });
  }

  /** The notes of ConnectWise ticket `id`, oldest first. */
  ticketNotes(id) {
    const auth = Buffer.from(`${CW.company}+${CW.publicKey}:${CW.privateKey}`).toString("base64");
    return this.json(`/sandbox/connectwise/v4_6_release/apis/3.0/service/tickets/${id}/notes?pageSize=1000`, {
      headers: { authorization: `Basic ${auth}`, clientId: CW.clientId },
    });
  }

  /** As a technician would in the Pax8 portal: one more Business Premium seat for the
   *  demo tenant (it reaches the tenant after the simulator's provisioning delay). */
  async pax8BuyPremiumSeat() {
    const token = await this.json("/sandbox/pax8/oauth/token", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        client_id: PAX8_CLIENT.id,
        client_secret: PAX8_CLIENT.secret,
        audience: "https://api.pax8.com",
        grant_type: "client_credentials",
      }),
    });
    await this.json(`/sandbox/pax8/v1/subscriptions/${PAX8_PREMIUM_SUBSCRIPTION}`, {
      method: "PUT",
      headers: { "content-type": "application/json", authorization: `Bearer ${token.access_token}` },
      body: JSON.stringify({ quantity: 3 }),
    });
  }
}

/** The absolute decision link (under `/decisions/`) with `action=<action>` in a mail
 *  or note body, or undefined. */
export function linkIn(body, action) {
  return (body ?? "")
    .split(/[\s<>"()]+/)
    .find((w) => URL.canParse(w) && w.includes("/decisions/") && new URL(w).searchParams.get("action") === action);
}

const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Debian's Chromium (never a downloaded browser). One per test file: launch it in
 *  `before`, close it in `after`. */
export function launchChromium() {
  return chromium.launch({ executablePath: "/usr/bin/chromium", args: CHROMIUM_ARGS, headless: true });
}

/** A page in a fresh browser context (no cookies, no cache), closed when test `t` ends.
 *  @param {import("node:test").TestContext} t
 *  @param {import("playwright-core").Browser} browser */
export async function newPage(t, browser) {
  const context = await browser.newContext();
  t.after(() => context.close());
  context.setDefaultTimeout(PAGE_TIMEOUT_MS);
  context.setDefaultNavigationTimeout(PAGE_TIMEOUT_MS);
  return context.newPage();
}

/** The status a record's page shows (`<b id="status">`). */
export async function statusOn(page) {
  return (await page.locator("#status").textContent()).trim();
}

/** The record id at the end of a status page's address (`/onboardings/{id}`). */
export function idFromUrl(url) {
  return decodeURIComponent(new URL(url).pathname.split("/").pop());
}

/**
 * Another site: an HTTP server on 127.0.0.2 (a different site from the server
 * under test on 127.0.0.1) serving `pages` (path -> HTML), stopped when test `t` ends.
 * @param {import("node:test").TestContext} t
 * @param {Record<string, string>} pages
 */
export async function startOtherSite(t, pages) {
  const server = http.createServer((req, res) => {
    const html = pages[new URL(req.url, "http://x").pathname];
    res.writeHead(html === undefined ? 404 : 200, { "content-type": "text/html; charset=utf-8" });
    res.end(html ?? "not found");
  });
  server.listen(0, "127.0.0.2");
  await once(server, "listening");
  t.after(() => {
    server.closeAllConnections();
    return new Promise((done) => server.close(done));
  });
  return `http://127.0.0.2:${server.address().port}`;
}
