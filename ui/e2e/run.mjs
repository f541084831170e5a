// End-to-end tests of the web UI in Debian's Chromium (playwright-core, no browser download)
// against a running `coder dev` (tests/ui/test_e2e.py starts one and sets the environment):
// UI_URL, EDGE_URL, OWNER_EMAIL, OWNER_PASSWORD, PROVIDER_URL (the local model server), MCP_URL
// (an external MCP server), OIDC_ISSUER (the OpenID Connect test provider `coder dev` is
// configured with, as "mock");
// OUT_DIR receives the screenshots. The notification tests run their own webhook receiver.
import AxeBuilder from "@axe-core/playwright";
import { createHmac } from "node:crypto";
import { mkdirSync, readFileSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { LAUNCH_OPTIONS } from "./launch.mjs";

const UI = process.env.UI_URL;
const EDGE = process.env.EDGE_URL;
const OWNER = { email: process.env.OWNER_EMAIL, password: process.env.OWNER_PASSWORD };
const OUT = process.env.OUT_DIR ?? new URL("./.out", import.meta.url).pathname;
const WAIT = 15_000;
const PROVIDER_URL = process.env.PROVIDER_URL; // the local model server (OpenAI's wire protocol)
const MCP_URL = process.env.MCP_URL; // the external MCP server of tests/mcp, on loopback
const SECRET_VALUE = "sk-local-e2e-7f3a9c1d2b4e6f80";
const OIDC_ISSUER = process.env.OIDC_ISSUER;

function check(condition, message) {
  if (!condition) throw new Error(message);
}

const accessibility = [];

/** axe on the page as it is now: no serious or critical violation may stand. */
async function axe(page, name) {
  const result = await new AxeBuilder({ page }).analyze();
  const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  accessibility.push({ name, violations: bad });
}

async function shoot(page, name) {
  mkdirSync(OUT, { recursive: true });
  for (const theme of ["light", "dark"]) {
    await page.evaluate((t) => {
      localStorage.setItem("coder-theme", t);
      document.documentElement.classList.toggle("dark", t === "dark");
    }, theme);
    await page.screenshot({ path: join(OUT, `${name}-${theme}.png`), fullPage: true });
    if (theme === "dark") await axe(page, `${name} (dark)`);
  }
  await page.evaluate(() => {
    localStorage.setItem("coder-theme", "light");
    document.documentElement.classList.remove("dark");
  });
  await axe(page, name);
}

async function signIn(page, email, password) {
  await page.goto(`${UI}/`);
  await page.waitForURL(/\/sign-in/, { timeout: WAIT });
  await page.getByLabel("Email", { exact: true }).fill(email);
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(/\/planning$/, { timeout: WAIT });
}

/** Sign in at the edge itself (as a partner's script would) for REST calls. */
async function edgeLogin(email, password) {
  const response = await fetch(`${EDGE}/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, password }),
  });
  check(response.ok, `edge login of ${email} answered ${response.status}`);
  return response.json();
}

async function rest(token, method, path, body) {
  const response = await fetch(`${EDGE}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  check(response.ok, `${method} ${path} answered ${response.status}: ${text}`);
  return text ? JSON.parse(text) : {};
}

/** A webhook receiver on loopback: it answers 204 and keeps what it was sent. */
async function webhookReceiver() {
  const received = [];
  const server = createServer((request, response) => {
    const chunks = [];
    request.on("data", (c) => chunks.push(c));
    request.on("end", () => {
      received.push({ headers: request.headers, body: Buffer.concat(chunks).toString("utf8") });
      response.writeHead(204).end();
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${server.address().port}/hooks/coder`, received, close: () => server.close() };
}

/** Standard Webhooks: HMAC-SHA256 of `id.timestamp.body` with the secret after `whsec_`. */
function signedBy(secret, { headers, body }) {
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  const expected = createHmac("sha256", key).update(`${headers["webhook-id"]}.${headers["webhook-timestamp"]}.${body}`).digest("base64");
  return String(headers["webhook-signature"] ?? "")
    .split(" ")
    .some((s) => s === `v1,${expected}`);
}

const column = (page, label) => page.getByRole("listitem", { name: label, exact: true });
const card = (page, title) => page.getByRole("button", { name: new RegExp(`^${title},`) });

const state = {};

const tests = [
  [
    "a fresh browser sees the sign-in page and the owner signs in",
    async ({ owner }) => {
      await owner.goto(`${UI}/`);
      await owner.waitForURL(/\/sign-in\?next=/, { timeout: WAIT });
      await owner.getByRole("heading", { name: "Sign in" }).waitFor();
      const page = await owner.request.get(`${UI}/sign-in`);
      const csp = page.headers()["content-security-policy"] ?? "";
      check(/script-src 'self' 'nonce-[A-Za-z0-9+/=]+'/.test(csp), `no script nonce in the CSP: ${csp}`);
      check(csp.includes("frame-ancestors 'none'"), "the page may be framed");
      check(page.headers()["x-content-type-options"] === "nosniff", "no X-Content-Type-Options");
      check(!!page.headers()["referrer-policy"], "no Referrer-Policy");
      const nonce = /'nonce-([^']+)'/.exec(csp)?.[1];
      check((await page.text()).includes(`nonce="${nonce}"`), "the page's scripts do not carry the nonce");
      await shoot(owner, "sign-in");
      await owner.goto(`${UI}/register`);
      await owner.getByRole("heading", { name: "Create an account" }).waitFor();
      await shoot(owner, "register");
      await owner.goto(`${UI}/invitations/accept?token=x`);
      await owner.getByRole("heading", { name: "Join an organization" }).waitFor();
      await axe(owner, "accept invitation");
      await signIn(owner, OWNER.email, OWNER.password);
    },
  ],
  [
    "a project is created, tasks added, a card dragged, a task edited, and a reload keeps the session",
    async ({ owner }) => {
      await owner.getByRole("button", { name: "New project" }).click();
      await owner.getByLabel("Name", { exact: true }).fill("Launch");
      await owner.getByRole("button", { name: "Create project" }).click();
      await owner.waitForURL(/\/planning\/[0-9A-Za-z_-]+$/, { timeout: WAIT });
      state.projectUrl = owner.url();
      await owner.getByTestId("live-state").getByText("Live").waitFor({ timeout: WAIT });
      for (const title of ["Write the plan", "Ship it"]) {
        await owner.keyboard.press("c");
        await owner.getByLabel("Title", { exact: true }).fill(title);
        await owner.getByRole("button", { name: "Add task" }).click();
        await column(owner, "To do").getByRole("button", { name: new RegExp(`^${title},`) }).waitFor();
      }
      await card(owner, "Write the plan").dragTo(column(owner, "In progress"));
      await column(owner, "In progress").getByRole("button", { name: /^Write the plan,/ }).waitFor();
      // A move the status rules forbid (to do → done) is not offered as a drop target.
      await card(owner, "Ship it").dragTo(column(owner, "Done"));
      await column(owner, "To do").getByRole("button", { name: /^Ship it,/ }).waitFor();
      await shoot(owner, "board");

      await card(owner, "Write the plan").click();
      await owner.getByLabel("Title", { exact: true }).fill("Write the launch plan");
      await owner.getByLabel("Priority", { exact: true }).selectOption("TASK_PRIORITY_HIGH");
      await owner.getByRole("button", { name: "Save" }).click();
      await column(owner, "In progress").getByRole("button", { name: /^Write the launch plan, High/ }).waitFor();

      await owner.reload();
      await column(owner, "In progress").getByRole("button", { name: /^Write the launch plan,/ }).waitFor({ timeout: WAIT });
      check(owner.url() === state.projectUrl, "the reload left the project page");
      await owner.getByTestId("live-state").getByText("Live").waitFor({ timeout: WAIT });

      // Without a mouse: j focuses the first card, Shift+→ and Shift+← move it along the rules.
      await owner.locator("body").click({ position: { x: 5, y: 5 } });
      const saved = [];
      const onSaved = (r) => r.request().method() === "PATCH" && r.url().includes("/tasks/") && saved.push(r.status());
      owner.on("response", onSaved);
      await owner.keyboard.press("j");
      check((await owner.evaluate(() => document.activeElement?.getAttribute("aria-label"))).startsWith("Ship it,"), "j did not focus the first card");
      await owner.keyboard.press("Shift+ArrowRight");
      await column(owner, "In progress").getByRole("button", { name: /^Ship it,/ }).waitFor({ timeout: WAIT });
      await owner.keyboard.press("Shift+ArrowLeft");
      await column(owner, "To do").getByRole("button", { name: /^Ship it,/ }).waitFor({ timeout: WAIT });
      // Both quick moves reached the service, not only the screen.
      const deadline = Date.now() + WAIT;
      while (saved.length < 2 && Date.now() < deadline) await owner.waitForTimeout(50);
      owner.off("response", onSaved);
      check(saved.length === 2 && saved.every((status) => status === 200), `the moves answered ${saved}`);
      await owner.reload();
      await column(owner, "To do").getByRole("button", { name: /^Ship it,/ }).waitFor({ timeout: WAIT });

      await owner.getByRole("tab", { name: "List" }).click();
      await owner.getByRole("table").getByText("Ship it").waitFor();
      await shoot(owner, "list");
      await owner.getByRole("tab", { name: "Board" }).click();
    },
  ],
  [
    "a field violation from the API appears next to its field",
    async ({ owner }) => {
      await card(owner, "Ship it").click();
      await owner.getByLabel("Estimate (hours)", { exact: true }).fill("-2");
      await owner.getByRole("button", { name: "Save" }).click();
      const message = owner.locator("#task-estimate-error");
      await message.waitFor({ timeout: WAIT });
      check((await message.textContent()).length > 0, "the estimate violation has no text");
      await shoot(owner, "task-drawer");
      await owner.getByRole("button", { name: "Cancel" }).click();
    },
  ],
  [
    "a member invited by the owner sees the owner's change on the board without reload",
    async ({ owner, member }) => {
      await owner.goto(`${UI}/settings/organization/invitations`);
      await owner.getByLabel("Email", { exact: true }).fill("member@coder.localhost");
      await owner.getByRole("button", { name: "Invite" }).click();
      const link = await owner.getByTestId("invitation-link").inputValue({ timeout: WAIT });
      await shoot(owner, "invitations");
      await member.goto(link);
      await member.getByLabel("Your name", { exact: true }).fill("Mia Member");
      await member.getByLabel("Password", { exact: true }).fill("correct horse battery staple");
      await member.getByRole("button", { name: "Accept invitation" }).click();
      await member.waitForURL(/\/planning$/, { timeout: WAIT });
      await member.goto(state.projectUrl);
      await member.getByTestId("live-state").getByText("Live").waitFor({ timeout: WAIT });
      await owner.goto(state.projectUrl);
      await owner.getByTestId("live-state").getByText("Live").waitFor({ timeout: WAIT });

      await card(owner, "Write the launch plan").dragTo(column(owner, "Review"));
      await column(member, "Review").getByRole("button", { name: /^Write the launch plan,/ }).waitFor({ timeout: WAIT });
      await member.getByRole("region", { name: "Recent changes" }).getByText(/moved “Write the launch plan” from In progress to Review/).waitFor();
    },
  ],
  [
    "a stale edit shows the conflict dialog and overwrites nothing",
    async ({ owner, member }) => {
      await card(member, "Ship it").click();
      await member.getByLabel("Title", { exact: true }).fill("Ship it (member's)");

      await card(owner, "Ship it").click();
      await owner.getByLabel("Title", { exact: true }).fill("Ship it on Friday");
      await owner.getByRole("button", { name: "Save" }).click();
      await column(owner, "To do").getByRole("button", { name: /^Ship it on Friday,/ }).waitFor();

      await member.getByRole("button", { name: "Save" }).click();
      const dialog = member.getByRole("alertdialog", { name: "Changed by someone else" });
      await dialog.waitFor({ timeout: WAIT });
      check((await member.getByTestId("their-title").textContent()) === "Ship it on Friday", "their version is not shown");
      await shoot(member, "conflict");
      await dialog.getByRole("button", { name: "Reload their version" }).click();
      check((await member.getByLabel("Title", { exact: true }).inputValue()) === "Ship it on Friday", "reload did not load their version");
      await member.getByRole("button", { name: "Cancel" }).click();
      await owner.reload();
      await column(owner, "To do").getByRole("button", { name: /^Ship it on Friday,/ }).waitFor({ timeout: WAIT });
      check((await card(owner, "Ship it \\(member's\\)").count()) === 0, "the stale edit was written");
    },
  ],
  [
    "revoking a session sends that browser back to sign-in at its next refresh",
    async ({ owner, browser }) => {
      const context = await browser.newContext(CONTEXT);
      const other = await context.newPage();
      await signIn(other, OWNER.email, OWNER.password);
      await other.goto(`${UI}/account/sessions`);
      const mine = other.getByRole("row").filter({ hasText: "this browser" });
      const sessionId = await mine.getAttribute("data-session-id", { timeout: WAIT });

      await owner.goto(`${UI}/account/sessions`);
      const row = owner.locator(`tr[data-session-id="${sessionId}"]`);
      await row.waitFor({ timeout: WAIT });
      await shoot(owner, "sessions");
      await row.getByRole("button", { name: /^Revoke/ }).click();
      await row.waitFor({ state: "detached", timeout: WAIT });

      await other.reload();
      await other.waitForURL(/\/sign-in/, { timeout: WAIT });
      await context.close();
    },
  ],
  [
    "a prompt is created in a folder, edited with a render preview, saved as version 2 and diffed side by side",
    async ({ owner }) => {
      await owner.goto(`${UI}/prompts`);
      await owner.getByRole("heading", { name: "Prompts", level: 1 }).waitFor({ timeout: WAIT });
      await owner.getByRole("button", { name: "New prompt" }).click();
      await owner.getByLabel("Name", { exact: true }).fill("team/review");
      await owner.getByLabel("Content", { exact: true }).fill("Review this code:\n{{ code }}\nBe brief.");
      await owner.getByRole("button", { name: "Create prompt" }).click();
      await owner.waitForURL(/\/prompts\/[0-9A-Za-z_-]+$/, { timeout: WAIT });
      state.promptUrl = owner.url();
      await owner.getByRole("heading", { name: "team/review" }).waitFor({ timeout: WAIT });

      // The list shows it in its folder.
      await owner.goto(`${UI}/prompts`);
      await owner.getByRole("region", { name: "Folder team" }).getByText("team/review").waitFor({ timeout: WAIT });
      await owner.getByRole("navigation", { name: "Folders" }).getByRole("link", { name: "team" }).waitFor();
      await shoot(owner, "prompts");
      await owner.goto(state.promptUrl);

      const template = owner.getByLabel("Template", { exact: true });
      await template.waitFor({ timeout: WAIT });
      check((await template.inputValue()) === "Review this code:\n{{ code }}\nBe brief.", "the editor does not start from version 1");
      await template.fill("Review this {{ language }} code:\n{{ code }}\nBe brief and kind.");
      await owner.getByRole("button", { name: "Declare the names the content uses" }).click();
      check((await owner.getByLabel("Name", { exact: true }).nth(1).inputValue()) === "language", "language was not declared");

      // A required variable without a value: the service's violation shows under its field.
      const preview = owner.getByRole("region", { name: "Render preview" });
      await preview.getByLabel("language (required)", { exact: true }).fill("Python");
      await preview.getByRole("button", { name: "Render preview" }).click();
      await owner.locator("#value-code-error").waitFor({ timeout: WAIT });
      await preview.getByLabel("code (required)", { exact: true }).fill("x = 1");
      await preview.getByRole("button", { name: "Render preview" }).click();
      await owner.getByTestId("rendered-text").getByText("Review this Python code:").waitFor({ timeout: WAIT });
      check(
        (await owner.getByTestId("rendered-text").textContent()) === "Review this Python code:\nx = 1\nBe brief and kind.",
        "the preview is not the rendered template",
      );
      check((await owner.locator("#value-code-error").count()) === 0, "the violation stayed after a good render");
      await owner.getByLabel("Temperature (0–2)", { exact: true }).fill("0.2");
      await owner.getByLabel("What changed", { exact: true }).fill("Name the language");
      await owner.getByRole("button", { name: "Save as version 2" }).click();
      await owner.getByRole("status").getByText("Saved version 2").waitFor({ timeout: WAIT });
      await owner.getByRole("button", { name: "Save as version 3" }).waitFor({ timeout: WAIT });
      await shoot(owner, "prompt-editor");

      await owner.getByRole("tab", { name: "Versions" }).click();
      const diff = owner.getByRole("table", { name: "Side-by-side diff of version 1 and version 2" });
      await diff.waitFor({ timeout: WAIT });
      const changed = diff.locator('tr[data-kind="changed"]').first();
      check((await changed.locator('[data-side="from"]').innerText()).includes("Review this code:"), "the left side is not version 1");
      check((await changed.locator('[data-side="to"]').innerText()).includes("Review this {{ language }} code:"), "the right side is not version 2");
      await owner.getByRole("cell", { name: "variables.language", exact: true }).waitFor();
      await owner.getByRole("cell", { name: "model_config.temperature", exact: true }).waitFor();
      await shoot(owner, "prompt-diff");
    },
  ],
  [
    "labels move and roll back, a protected label is greyed out for a member, and an experiment shows its results",
    async ({ owner, member }) => {
      await owner.goto(`${state.promptUrl}?tab=labels`);
      await owner.getByLabel("New label", { exact: true }).fill("production");
      await owner.getByLabel("On version", { exact: true }).selectOption("1");
      await owner.getByRole("button", { name: "Add label" }).click();
      const row = owner.locator('tr[data-label="production"]');
      await row.getByRole("cell", { name: "v1", exact: true }).waitFor({ timeout: WAIT });
      await row.getByLabel("Version for production").selectOption("2");
      await row.getByRole("button", { name: "Move production" }).click();
      await row.getByRole("button", { name: "Roll back to v1" }).waitFor({ timeout: WAIT });
      check((await row.getByRole("cell").nth(1).textContent()) === "v2", "production is not on version 2");
      await shoot(owner, "prompt-labels");

      // production is protected by the default policy: a member may not move it.
      await member.goto(`${state.promptUrl}?tab=labels`);
      const theirs = member.locator('tr[data-label="production"]');
      await theirs.waitFor({ timeout: WAIT });
      check(await theirs.getByRole("button", { name: "Move production" }).isDisabled(), "a member may move a protected label");

      await owner.getByRole("tab", { name: "Experiments" }).click();
      await owner.getByLabel("Name", { exact: true }).fill("Kinder reviews");
      await owner.getByLabel("Label it splits", { exact: true }).fill("production");
      await owner.getByRole("button", { name: "Create experiment" }).click();
      const experiment = owner.getByRole("article", { name: "Experiment Kinder reviews" });
      await experiment.getByRole("button", { name: "Start" }).click();
      await experiment.getByTestId("experiment-state").getByText("Running").waitFor({ timeout: WAIT });
      for (const [key, success] of [["user-1", true], ["user-2", false], ["user-3", true]]) {
        await experiment.getByLabel("Record an outcome for key").fill(key);
        await experiment.getByRole("button", { name: success ? "Success" : "Failure" }).click();
        await owner.getByRole("status").getByText(/^Recorded for variant/).first().waitFor({ timeout: WAIT });
      }
      const results = experiment.getByRole("table", { name: "Results of Kinder reviews" });
      const deadline = Date.now() + WAIT;
      let total = 0;
      while (Date.now() < deadline) {
        const cells = await results.locator("tbody tr td:nth-child(3)").allTextContents();
        total = cells.reduce((sum, cell) => sum + Number(cell), 0);
        if (total === 3) break;
        await owner.waitForTimeout(100);
      }
      check(total === 3, `the results count ${total} outcomes, not 3`);
      await shoot(owner, "prompt-experiments");
    },
  ],
  [
    "a shared prompt is overridden for the organization, and a version is deleted through its confirmation",
    async ({ owner }) => {
      await owner.goto(`${UI}/prompts`);
      const library = owner.getByRole("region", { name: "Shared library" });
      await library.getByRole("link", { name: /^coder\/code-review/ }).click();
      await owner.waitForURL(/\/prompts\/[0-9A-Za-z_-]+$/, { timeout: WAIT });
      const sharedUrl = owner.url();
      const override = owner.getByRole("region", { name: "Override" });
      await override.getByRole("button", { name: "Override for this organization" }).click();
      await owner.waitForURL((url) => url.href !== sharedUrl && /\/prompts\/[0-9A-Za-z_-]+$/.test(url.pathname), { timeout: WAIT });
      await owner.getByTestId("overrides-shared").waitFor({ timeout: WAIT });
      await owner.getByRole("heading", { name: "coder/code-review", level: 1 }).waitFor();
      const overrideUrl = owner.url();
      const promptId = new URL(overrideUrl).pathname.split("/").at(-1);
      await shoot(owner, "prompt-override");

      // The shared prompt now names its override, and the list marks it.
      await owner.goto(sharedUrl);
      await override.getByRole("link", { name: /coder\/code-review/ }).click();
      await owner.waitForURL(overrideUrl, { timeout: WAIT });
      await owner.goto(`${UI}/prompts`);
      await library.getByRole("listitem").filter({ hasText: "coder/code-review" }).getByText("overridden by your organization").waitFor({ timeout: WAIT });

      // A second version (through REST), then deleted through the confirmation.
      const { accessToken } = await edgeLogin(OWNER.email, OWNER.password);
      const listed = await rest(accessToken, "GET", `/api/v1/prompt/prompts/${promptId}/versions`);
      check(listed.versions.length === 1, `the override starts with ${listed.versions.length} versions`);
      // Output-only fields of the copy are ignored by the service.
      await rest(accessToken, "POST", `/api/v1/prompt/prompts/${promptId}/versions`, { ...listed.versions[0], commitMessage: "A second try" });
      await owner.goto(`${overrideUrl}?tab=versions`);
      const rows = owner.getByRole("table", { name: "Versions" });
      await rows.locator('tr[data-version="2"]').waitFor({ timeout: WAIT });
      await owner.getByRole("button", { name: "Delete version 2", exact: true }).click();
      let confirm = owner.getByRole("alertdialog", { name: "Delete version 2?" });
      await confirm.getByText(/A second try/).waitFor({ timeout: WAIT });
      await confirm.getByRole("button", { name: "Keep it" }).click();
      await confirm.waitFor({ state: "detached" });
      check((await rows.locator('tr[data-version="2"]').count()) === 1, "Keep it deleted the version");
      await owner.getByRole("button", { name: "Delete version 2", exact: true }).click();
      confirm = owner.getByRole("alertdialog", { name: "Delete version 2?" });
      await shoot(owner, "prompt-delete-version");
      await confirm.getByRole("button", { name: "Delete version 2", exact: true }).click();
      await confirm.waitFor({ state: "detached", timeout: WAIT });
      await rows.locator('tr[data-version="2"]').waitFor({ state: "detached", timeout: WAIT });
      const left = await rest(accessToken, "GET", `/api/v1/prompt/prompts/${promptId}/versions`);
      check(left.versions.length === 1 && left.versions[0].version === 1, "the service still has version 2");
      // The only version left: the confirmation says why not and offers no delete.
      await owner.getByRole("button", { name: "Delete version 1", exact: true }).click();
      confirm = owner.getByRole("alertdialog", { name: "Delete version 1?" });
      await confirm.getByText("It is the only version; delete the prompt instead.").waitFor({ timeout: WAIT });
      check(await confirm.getByRole("button", { name: "Delete version 1", exact: true }).isDisabled(), "the only version may be deleted");
      await confirm.getByRole("button", { name: "Keep it" }).click();
    },
  ],
  [
    "a secret is stored, listed masked, revealed with a reason that lands in the audit, granted, and a .env imported",
    async ({ owner }) => {
      await owner.goto(`${UI}/secrets`);
      await owner.getByRole("heading", { name: "Secrets", level: 1 }).waitFor({ timeout: WAIT });
      await owner.getByRole("button", { name: "New secret" }).click();
      const create = owner.getByRole("dialog", { name: "New secret" });
      await create.getByLabel("Name", { exact: true }).fill("LOCAL_LLM_KEY");
      await create.getByLabel("Scope", { exact: true }).selectOption("SECRET_SCOPE_ORGANIZATION");
      await create.getByLabel("Description", { exact: true }).fill("The local model server's key");
      await create.getByLabel("Key", { exact: true }).fill(SECRET_VALUE);
      await create.getByRole("button", { name: "Store secret" }).click();
      await owner.waitForURL(/\/secrets\/[0-9A-Za-z_-]+$/, { timeout: WAIT });
      state.secretUrl = owner.url();
      await owner.getByTestId("masked-value").waitFor({ timeout: WAIT });
      check(!(await owner.content()).includes(SECRET_VALUE), "the secret's page shows the value before it is revealed");

      await owner.goto(`${UI}/secrets`);
      const row = owner.locator('tr[data-secret="LOCAL_LLM_KEY"]');
      await row.waitFor({ timeout: WAIT });
      check((await row.getByLabel("value hidden").textContent()) === "••••••••", "the list does not mask the value");
      check(!(await owner.content()).includes(SECRET_VALUE), "the list shows the value");
      await shoot(owner, "secrets");

      await owner.goto(state.secretUrl);
      await owner.getByRole("button", { name: "Reveal", exact: true }).click();
      const dialog = owner.getByRole("dialog", { name: "Reveal LOCAL_LLM_KEY" });
      await dialog.getByRole("button", { name: /^Reveal version/ }).click();
      await owner.locator("#reveal-reason-error").waitFor({ timeout: WAIT });
      await dialog.getByLabel("Reason", { exact: true }).fill("e2e: check the stored key");
      await dialog.getByRole("button", { name: /^Reveal version/ }).click();
      const value = dialog.getByTestId("revealed-value").locator('[data-field="Key"]');
      await value.waitFor({ timeout: WAIT });
      check((await value.textContent()) === SECRET_VALUE, "the revealed value is not the stored one");
      await shoot(owner, "secret-reveal");
      await dialog.getByRole("button", { name: "Hide" }).click();
      await dialog.waitFor({ state: "detached" });
      check(!(await owner.content()).includes(SECRET_VALUE), "the value stayed on the page after Hide");
      // The read is in the audit with its reason (the audit refreshes on its own).
      await owner.reload();
      await owner.locator('tr[data-audit="e2e: check the stored key"]').waitFor({ timeout: WAIT });
      await owner.getByRole("region", { name: "Versions" }).locator('tr[data-version="1"]').getByText("v1 (current)").waitFor({ timeout: WAIT });

      await owner.getByLabel("Grant to", { exact: true }).selectOption("GRANTEE_TYPE_ROLE");
      await owner.getByLabel("Role", { exact: true }).fill("member");
      await owner.getByRole("button", { name: "Grant", exact: true }).click();
      await owner.getByRole("region", { name: "Grants" }).getByRole("cell", { name: "role member" }).waitFor({ timeout: WAIT });
      await shoot(owner, "secret");

      await owner.goto(`${UI}/secrets?dialog=import`);
      const importer = owner.getByRole("dialog", { name: "Import secrets" });
      await importer.getByLabel("Content", { exact: true }).fill("# from .env\nFIRST_TOKEN=one\nexport SECOND_TOKEN=\"two two\"\n");
      await importer.getByRole("button", { name: "Import", exact: true }).click();
      await importer.getByRole("status").getByText(/2 created \(FIRST_TOKEN, SECOND_TOKEN\)/).waitFor({ timeout: WAIT });
      await importer.getByRole("button", { name: "Close" }).click();
      await owner.locator('tr[data-secret="SECOND_TOKEN"]').waitFor({ timeout: WAIT });
    },
  ],
  [
    "a secret is renamed and moved to a project, exported as a bundle that imports back as a version, and the keys rewrapped",
    async ({ owner }) => {
      const projectId = new URL(state.projectUrl).pathname.split("/").at(-1);
      await owner.goto(`${UI}/secrets`);
      await owner.locator('tr[data-secret="SECOND_TOKEN"]').getByRole("link").click();
      await owner.waitForURL(/\/secrets\/[0-9A-Za-z_-]+$/, { timeout: WAIT });
      const secretUrl = owner.url();
      await owner.getByRole("button", { name: "Move or rename" }).click();
      const move = owner.getByRole("dialog", { name: "Move SECOND_TOKEN" });
      await move.getByLabel("Name", { exact: true }).fill("LAUNCH_TOKEN");
      await move.getByLabel("Scope", { exact: true }).selectOption("SECRET_SCOPE_PROJECT");
      await move.getByRole("button", { name: "Move", exact: true }).click();
      await owner.locator("#move-scope-id-error").waitFor({ timeout: WAIT }); // a project scope names its project
      await move.getByLabel("Project id", { exact: true }).fill(projectId);
      await move.getByRole("button", { name: "Move", exact: true }).click();
      await move.waitFor({ state: "detached", timeout: WAIT });
      await owner.reload();
      await owner.getByRole("heading", { name: "LAUNCH_TOKEN", level: 1 }).waitFor({ timeout: WAIT });
      check(owner.url() === secretUrl, "the move changed the secret's id");
      check((await owner.getByTestId("secret-summary").textContent()).includes(`Project ${projectId}`), "the secret is not in the project's scope");

      // Export this one secret; the file is what Import reads back.
      await owner.getByRole("button", { name: "Export", exact: true }).click();
      const exporter = owner.getByRole("dialog", { name: "Export LAUNCH_TOKEN" });
      await exporter.getByLabel("Bundle password", { exact: true }).fill("bundle password of the e2e run");
      await exporter.getByLabel("Password again", { exact: true }).fill("bundle password of the e2e run");
      await exporter.getByLabel("Reason (kept in the audit)", { exact: true }).fill("e2e: carry the token over");
      await exporter.getByRole("button", { name: "Export", exact: true }).click();
      await exporter.getByRole("status").getByText("Exported 1 secret.").waitFor({ timeout: WAIT });
      const [download] = await Promise.all([owner.waitForEvent("download", { timeout: WAIT }), exporter.getByRole("link", { name: /^Download secrets-/ }).click()]);
      check(/^secrets-.*\.bundle$/.test(download.suggestedFilename()), `the bundle is saved as ${download.suggestedFilename()}`);
      const bundle = readFileSync(await download.path(), "utf8");
      check(!bundle.includes("two two") && !Buffer.from(bundle, "base64").toString("utf8").includes("two two"), "the bundle carries the value in clear");
      await shoot(owner, "secret-export");
      await exporter.getByRole("button", { name: "Close" }).click();
      await owner.locator('tr[data-audit="export: e2e: carry the token over"]').waitFor({ timeout: 2 * WAIT });

      await owner.goto(`${UI}/secrets?dialog=import`);
      const importer = owner.getByRole("dialog", { name: "Import secrets" });
      await importer.getByLabel("Format", { exact: true }).selectOption("IMPORT_FORMAT_BUNDLE");
      await importer.getByLabel("When a name exists", { exact: true }).selectOption("IMPORT_CONFLICT_NEW_VERSION");
      await importer.getByLabel("Bundle (base64, as exported)", { exact: true }).fill(bundle);
      await importer.getByLabel("Bundle password", { exact: true }).fill("bundle password of the e2e run");
      await importer.getByRole("button", { name: "Import", exact: true }).click();
      await importer.getByRole("status").getByText(/0 created \(none\), 1 new versions, 0 skipped/).waitFor({ timeout: WAIT });
      await importer.getByRole("button", { name: "Close" }).click();

      // The imported version holds the exported value.
      await owner.goto(secretUrl);
      await owner.getByRole("region", { name: "Versions" }).locator('tr[data-version="2"]').getByText("v2 (current)").waitFor({ timeout: WAIT });
      await owner.getByRole("button", { name: "Reveal", exact: true }).click();
      const reveal = owner.getByRole("dialog", { name: "Reveal LAUNCH_TOKEN" });
      await reveal.getByLabel("Reason", { exact: true }).fill("e2e: check the imported version");
      await reveal.getByRole("button", { name: /^Reveal version/ }).click();
      const value = reveal.getByTestId("revealed-value").locator('[data-field="Value"]');
      await value.waitFor({ timeout: WAIT });
      check((await value.textContent()) === "two two", `the imported value is ${await value.textContent()}`);
      await reveal.getByRole("button", { name: "Hide" }).click();

      // Keys: every version under the one primary key of this installation; a rewrap moves none.
      await owner.goto(`${UI}/secrets?dialog=keys`);
      const keys = owner.getByRole("dialog", { name: "Encryption keys" });
      await keys.getByTestId("versions-off-primary").getByText("Every version is under the primary key.").waitFor({ timeout: WAIT });
      const counted = Number(await keys.getByRole("row").filter({ hasText: "primary" }).getByRole("cell").nth(1).textContent());
      check(counted >= 4, `the primary key wraps ${counted} versions`);
      await keys.getByRole("button", { name: "Rewrap under the primary key" }).click();
      await keys.getByRole("status").getByText("Rewrapped 0 versions under the primary key.").waitFor({ timeout: WAIT });
      await shoot(owner, "secret-keys");
    },
  ],
  [
    "an admin registers a provider with the secret and a model, the playground streams, the usage shows, and a quota alert appears",
    async ({ owner }) => {
      // A hard quota below one answer's tokens: the first call passes (nothing used yet), its
      // usage raises the alerts, and the next call is refused before the provider is called.
      await owner.goto(`${UI}/usage/limits`);
      await owner.getByRole("button", { name: "New quota" }).click();
      const form = owner.getByRole("form", { name: "New quota" });
      await form.getByLabel("Name", { exact: true }).fill("Daily tokens");
      await form.getByLabel("Meter", { exact: true }).selectOption("ai.completion.tokens");
      await form.getByLabel("Limit per period", { exact: true }).fill("10");
      await form.getByLabel("Period", { exact: true }).selectOption("PERIOD_DAY");
      await form.getByLabel("At the limit", { exact: true }).selectOption("ENFORCEMENT_HARD");
      await form.getByRole("button", { name: "Create quota" }).click();
      await owner.locator('tr[data-limit="Daily tokens"]').getByTestId("limit-state").getByText("OK").waitFor({ timeout: WAIT });

      await owner.goto(`${UI}/ai`);
      await owner.getByRole("button", { name: "New provider" }).click();
      await owner.getByLabel("Name", { exact: true }).fill("local");
      await owner.getByLabel("Protocol", { exact: true }).selectOption("PROVIDER_KIND_OPENAI_COMPATIBLE");
      await owner.getByLabel("Base URL", { exact: true }).fill(PROVIDER_URL);
      await owner.getByLabel("API key (a secret)", { exact: true }).selectOption({ label: "LOCAL_LLM_KEY" });
      await owner.getByRole("button", { name: "Add provider" }).click();
      await owner.locator('tr[data-provider="local"]').waitFor({ timeout: WAIT });
      await owner.getByRole("button", { name: "New model" }).click();
      await owner.getByLabel("Name callers use", { exact: true }).fill("local-chat");
      await owner.getByLabel("USD per 1M input tokens", { exact: true }).fill("1");
      await owner.getByLabel("USD per 1M output tokens", { exact: true }).fill("2");
      await owner.getByRole("button", { name: "Add model" }).click();
      await owner.locator('tr[data-model="local-chat"]').waitFor({ timeout: WAIT });
      await shoot(owner, "ai-admin");

      await owner.goto(`${UI}/ai/playground`);
      await owner.getByLabel("Model", { exact: true }).selectOption("local-chat");
      const streamed = owner.waitForResponse((r) => r.url().includes("/chat/completions:stream"), { timeout: WAIT });
      await owner.getByLabel("Message", { exact: true }).fill("Say hello");
      await owner.getByRole("button", { name: "Send" }).click();
      const response = await streamed;
      check((response.headers()["content-type"] ?? "").startsWith("text/event-stream"), "the playground's answer is not an SSE stream");
      const usage = owner.getByTestId("answer-usage");
      await usage.waitFor({ timeout: WAIT });
      check((await owner.getByTestId("answer-text").textContent()) === "Hello from the local provider.", "the streamed answer is not the provider's");
      const line = await usage.textContent();
      // 11 input tokens at $1/M and 7 output tokens at $2/M.
      check(line.includes("local-chat via local") && line.includes("11 in / 7 out") && line.includes("$0.000025"), `the final usage is ${line}`);
      await shoot(owner, "ai-playground");

      // The completion's usage reaches Usage Tracking through the bus: its alerts appear.
      await owner.goto(`${UI}/usage/alerts`);
      const exceeded = owner.getByRole("listitem").filter({ hasText: "Quota “Daily tokens” exceeded" });
      const deadline = Date.now() + 4 * WAIT;
      while ((await exceeded.count()) === 0 && Date.now() < deadline) {
        await owner.waitForTimeout(500);
        await owner.reload();
        await owner.getByRole("heading", { name: "Usage", level: 1 }).waitFor({ timeout: WAIT });
        await owner.waitForLoadState("networkidle");
      }
      check((await exceeded.count()) >= 1, "no exceeded alert for the quota");
      await owner.getByRole("listitem").filter({ hasText: "Quota “Daily tokens” warning" }).first().waitFor();
      await shoot(owner, "usage-alerts");

      await owner.goto(`${UI}/usage`);
      await owner.getByRole("img", { name: /^By model: local-chat 18 token/ }).waitFor({ timeout: WAIT });
      await owner.getByTestId("limit-state").getByText("Exceeded").waitFor({ timeout: WAIT });
      await shoot(owner, "usage");

      // The hard quota now refuses the next call before the provider sees it.
      await owner.goto(`${UI}/ai/playground`);
      await owner.getByLabel("Model", { exact: true }).selectOption("local-chat");
      await owner.getByLabel("Message", { exact: true }).fill("Again");
      await owner.getByRole("button", { name: "Send" }).click();
      await owner.getByRole("alert").filter({ hasText: /quota|limit|exhaust/i }).waitFor({ timeout: WAIT });
    },
  ],
  [
    "a task assigned in Planning through REST shows up live in the assignee's bell and inbox; mark read counts it down",
    async ({ owner, browser }) => {
      // The assignee: a member invited for this test, with the inbox open in their browser.
      const email = "nina@coder.localhost";
      const password = "correct horse battery staple";
      await owner.goto(`${UI}/settings/organization/invitations`);
      await owner.getByLabel("Email", { exact: true }).fill(email);
      await owner.getByRole("button", { name: "Invite" }).click();
      const link = await owner.getByTestId("invitation-link").inputValue({ timeout: WAIT });
      const context = await browser.newContext(CONTEXT);
      const nina = await context.newPage();
      await nina.goto(link);
      await nina.getByLabel("Your name", { exact: true }).fill("Nina Notified");
      await nina.getByLabel("Password", { exact: true }).fill(password);
      await nina.getByRole("button", { name: "Accept invitation" }).click();
      await nina.waitForURL(/\/planning$/, { timeout: WAIT });
      await nina.getByRole("link", { name: "Notifications" }).click();
      await nina.getByRole("heading", { name: "Notifications", level: 1 }).waitFor({ timeout: WAIT });
      const bell = nina.getByTestId("notification-bell");
      await nina.locator('[data-testid="notification-bell"][data-live="live"]').waitFor({ timeout: WAIT });
      check((await nina.getByTestId("inbox-unread").textContent()) === "0 unread", "a new member's inbox is not empty");
      await nina.evaluate(() => (window.__sameDocument = true));

      // The one REST call: the owner creates a task assigned to Nina.
      const ownerAuth = await edgeLogin(OWNER.email, OWNER.password);
      const ninaAuth = await edgeLogin(email, password);
      const project = await rest(ownerAuth.accessToken, "POST", "/api/v1/planning/projects", { name: "Notified" });
      const projectId = project.project.id;
      const task = await rest(ownerAuth.accessToken, "POST", `/api/v1/planning/projects/${projectId}/tasks`, {
        title: "Announce the launch",
        assigneeId: ninaAuth.user.id,
      });
      const taskId = task.task.id;

      // Live: the bell counts it and the inbox lists it, on the same document (no reload).
      await nina.locator('[data-testid="notification-bell"][aria-label="Notifications, 1 unread"]').waitFor({ timeout: WAIT });
      const item = nina.getByRole("list", { name: "Inbox" }).getByRole("listitem").filter({ hasText: "Announce the launch" });
      await item.waitFor({ timeout: WAIT });
      check(await nina.evaluate(() => window.__sameDocument === true), "the page was reloaded");
      check((await item.getAttribute("data-state")) === "NOTIFICATION_STATE_UNREAD", "the new notification is not unread");
      check(/assigned you “Announce the launch”/.test(await item.textContent()), "the notification does not say who assigned what");
      const href = await item.getByRole("link", { name: "Open" }).getAttribute("href");
      check(href === `/planning/${projectId}?task=${taskId}`, `the action link is ${href}`);
      check((await nina.getByTestId("unread-count").textContent()) === "1", "the bell does not show 1");
      await shoot(nina, "notifications-inbox");

      await bell.click();
      const panel = nina.getByRole("region", { name: "Notifications" });
      await panel.getByRole("listitem").filter({ hasText: "Announce the launch" }).waitFor({ timeout: WAIT });
      await shoot(nina, "notification-bell");
      await nina.keyboard.press("Escape");
      await panel.waitFor({ state: "detached" });

      // Mark read counts down (the service's count, asked again after the write).
      await item.getByRole("button", { name: /^Mark “.*Announce the launch.*” read$/ }).click();
      await nina.locator('[data-testid="notification-bell"][aria-label="Notifications"]').waitFor({ timeout: WAIT });
      await nina.getByTestId("inbox-unread").getByText("0 unread").waitFor({ timeout: WAIT });
      check((await item.getAttribute("data-state")) === "NOTIFICATION_STATE_READ", "the notification is not read");
      const counted = await rest(ninaAuth.accessToken, "GET", "/api/v1/notification/notifications:unreadCount");
      check((counted.unreadCount ?? 0) === 0, `the service counts ${counted.unreadCount} unread`);

      // Archived: out of the inbox, listed under Archived; its link opens the task.
      await item.getByRole("button", { name: /^Archive/ }).click();
      await item.waitFor({ state: "detached", timeout: WAIT });
      await nina.getByLabel("Show", { exact: true }).selectOption("NOTIFICATION_FILTER_ARCHIVED");
      const archived = nina.getByRole("list", { name: "Inbox" }).getByRole("listitem").filter({ hasText: "Announce the launch" });
      await archived.waitFor({ timeout: WAIT });
      await archived.getByRole("link", { name: "Open" }).click();
      await nina.waitForURL(new RegExp(`/planning/${projectId}\\?task=${taskId}$`), { timeout: WAIT });
      check((await nina.getByLabel("Title", { exact: true }).inputValue({ timeout: WAIT })) === "Announce the launch", "the link did not open the task");
      await context.close();
    },
  ],
  [
    "notification preferences and the organization's defaults are saved and kept after a reload",
    async ({ owner }) => {
      await owner.goto(`${UI}/notifications/preferences`);
      await owner.getByRole("heading", { name: "Notification preferences", level: 1 }).waitFor({ timeout: WAIT });
      // The organization's default: email for every type as a daily digest.
      await owner.getByRole("button", { name: "Organization defaults" }).click();
      const defaults = owner.getByRole("form", { name: "Organization defaults" });
      await defaults.getByLabel("Every type · Email digest", { exact: true }).selectOption("DIGEST_DAILY");
      await defaults.getByRole("button", { name: "Save defaults" }).click();
      await owner.getByRole("status").getByText("Organization defaults saved").waitFor({ timeout: WAIT });

      await owner.getByRole("button", { name: "Mine", exact: true }).click();
      const mine = owner.getByRole("form", { name: "My preferences" });
      const inherited = mine.getByLabel("Task assigned · Email digest", { exact: true });
      await inherited.locator("option", { hasText: "Inherit (daily digest)" }).waitFor({ state: "attached", timeout: WAIT });
      await mine.getByLabel("Task assigned · Email", { exact: true }).selectOption("TOGGLE_OFF");
      await mine.getByLabel("Task assigned · In-app digest", { exact: true }).selectOption("DIGEST_HOURLY");
      await mine.getByLabel("Time zone", { exact: true }).fill("Europe/Paris");
      await mine.getByLabel("Quiet hours", { exact: true }).selectOption("window");
      await mine.getByLabel("From", { exact: true }).fill("22:00");
      await mine.getByLabel("To", { exact: true }).fill("07:00");
      await mine.getByRole("button", { name: "For an hour" }).click();
      await mine.getByRole("button", { name: "Save preferences" }).click();
      await owner.getByRole("status").getByText("Preferences saved").waitFor({ timeout: WAIT });
      await shoot(owner, "notification-preferences");

      await owner.reload();
      const again = owner.getByRole("form", { name: "My preferences" });
      await again.getByLabel("Time zone", { exact: true }).waitFor({ timeout: WAIT });
      check((await again.getByLabel("Time zone", { exact: true }).inputValue()) === "Europe/Paris", "the time zone was not kept");
      check((await again.getByLabel("Task assigned · Email", { exact: true }).inputValue()) === "TOGGLE_OFF", "the email toggle was not kept");
      check((await again.getByLabel("Task assigned · In-app digest", { exact: true }).inputValue()) === "DIGEST_HOURLY", "the digest was not kept");
      check((await again.getByLabel("Quiet hours", { exact: true }).inputValue()) === "window", "the quiet hours were not kept");
      check((await again.getByLabel("From", { exact: true }).inputValue()) === "22:00", "the quiet hours' start was not kept");
      check((await again.getByLabel("To", { exact: true }).inputValue()) === "07:00", "the quiet hours' end was not kept");
      check((await again.getByLabel("Do not disturb until", { exact: true }).inputValue()) !== "", "do-not-disturb was not kept");
      await owner.getByRole("button", { name: "Organization defaults" }).click();
      check(
        (await owner.getByRole("form", { name: "Organization defaults" }).getByLabel("Every type · Email digest", { exact: true }).inputValue()) ===
          "DIGEST_DAILY",
        "the organization's default was not kept",
      );
    },
  ],
  [
    "a webhook endpoint is created, its signed test delivery reaches the receiver and shows in the log; disable, enable, rotate",
    async ({ owner }) => {
      const receiver = await webhookReceiver();
      try {
        await owner.goto(`${UI}/notifications/webhooks`);
        await owner.getByRole("heading", { name: "Webhook endpoints", level: 1 }).waitFor({ timeout: WAIT });
        const form = owner.getByRole("form", { name: "New endpoint" });
        await form.getByLabel("URL", { exact: true }).fill(receiver.url);
        await form.getByLabel("Event types", { exact: true }).fill("planning.task.*, usage.quota.*");
        await form.getByLabel("Description", { exact: true }).fill("The e2e receiver");
        await form.getByRole("button", { name: "Create endpoint" }).click();
        const secret = await owner.getByTestId("webhook-secret").textContent({ timeout: WAIT });
        check(secret.startsWith("whsec_"), `the secret is ${secret}`);
        await owner.locator(`tr[data-endpoint="${receiver.url}"]`).getByTestId("endpoint-state").getByText("Enabled").waitFor({ timeout: WAIT });
        await shoot(owner, "notification-webhooks");
        await owner.getByRole("link", { name: "Open the endpoint" }).click();
        await owner.waitForURL(/\/notifications\/webhooks\/[0-9A-Za-z_~.-]+$/, { timeout: WAIT });

        await owner.getByRole("button", { name: "Send test" }).click();
        const row = owner.locator('tr[data-delivery="notification.webhook.tested"]');
        await row.getByTestId("delivery-status").getByText("Delivered (HTTP 204)").waitFor({ timeout: 2 * WAIT });
        check(receiver.received.length === 1, `the receiver got ${receiver.received.length} requests`);
        const [delivery] = receiver.received;
        check(signedBy(secret, delivery), "the delivery is not signed with the endpoint's secret");
        check(JSON.parse(delivery.body).type === "notification.webhook.tested", "the receiver did not get the test event");
        check((await row.textContent()).includes(delivery.headers["webhook-id"]), "the log does not show the delivery's webhook-id");
        await shoot(owner, "notification-webhook");

        await owner.getByRole("button", { name: "Disable" }).click();
        await owner.getByTestId("endpoint-state").getByText(/^Disabled/).waitFor({ timeout: WAIT });
        check(await owner.getByRole("button", { name: "Send test" }).isDisabled(), "a disabled endpoint offers a test");
        await owner.getByRole("button", { name: "Enable again" }).click();
        await owner.getByTestId("endpoint-state").getByText("Enabled").waitFor({ timeout: WAIT });

        await owner.getByRole("button", { name: "Rotate secret" }).click();
        const rotated = await owner.getByTestId("webhook-secret").textContent({ timeout: WAIT });
        check(rotated.startsWith("whsec_") && rotated !== secret, "the rotation did not give a new secret");
        await owner.getByLabel("Event types", { exact: true }).fill("planning.task.assigned");
        await owner.getByRole("button", { name: "Save endpoint" }).click();
        await owner.getByRole("status").getByText("Endpoint saved").waitFor({ timeout: WAIT });
        await owner.reload();
        check((await owner.getByLabel("Event types", { exact: true }).inputValue({ timeout: WAIT })) === "planning.task.assigned", "the filters were not kept");
      } finally {
        receiver.close();
      }
    },
  ],
  [
    "a template is previewed with sample data, a broken one is refused in the preview, and the organization's wording is saved",
    async ({ owner }) => {
      await owner.goto(`${UI}/notifications/templates`);
      await owner.getByRole("heading", { name: "Notification templates", level: 1 }).waitFor({ timeout: WAIT });
      await owner.getByLabel("Event type", { exact: true }).selectOption("planning.task.assigned");
      await owner.getByLabel("Channel", { exact: true }).selectOption("CHANNEL_IN_APP");
      const preview = owner.getByRole("region", { name: "Template preview" });
      await preview.getByRole("button", { name: "Preview what applies now" }).click();
      await owner.getByTestId("preview-title").getByText(/Write the release notes/).waitFor({ timeout: WAIT });

      await owner.getByLabel("Title", { exact: true }).fill("{{ actor.name }} handed you {{ task.title");
      await preview.getByRole("button", { name: "Preview the draft" }).click();
      await owner.getByTestId("preview-error").waitFor({ timeout: WAIT });
      await owner.getByLabel("Title", { exact: true }).fill("{{ actor.name }} handed you {{ task.title }}");
      await owner.getByLabel("Body", { exact: true }).fill("Due {{ task.due_time | datetime }}.");
      await preview.getByRole("button", { name: "Preview the draft" }).click();
      await owner.getByTestId("preview-title").getByText("Ada Lovelace handed you Write the release notes").waitFor({ timeout: WAIT });
      check((await owner.getByTestId("preview-error").count()) === 0, "the error stayed after a good preview");
      check(/^Due .*2026/.test(await owner.getByTestId("preview-body").textContent()), "the body's date was not rendered");
      await owner.getByLabel("Data (JSON)", { exact: true }).fill('{"task": {"title": "Given title"}}');
      await preview.getByRole("button", { name: "Preview the draft" }).click();
      await owner.getByTestId("preview-title").getByText("Ada Lovelace handed you Given title").waitFor({ timeout: WAIT });
      await shoot(owner, "notification-templates");

      await owner.getByRole("button", { name: "Save template" }).click();
      await owner.locator('tr[data-template="planning.task.assigned~in_app~any"]').waitFor({ timeout: WAIT });
    },
  ],
  [
    "a knowledge space and page: created, edited with a live preview, saved, a revision diffed and restored, found by search",
    async ({ owner }) => {
      await owner.goto(`${UI}/knowledge`);
      await owner.getByRole("heading", { name: "Knowledge", level: 1 }).waitFor({ timeout: WAIT });
      const form = owner.getByRole("form", { name: "New space" });
      await form.getByLabel("Name", { exact: true }).fill("Operations");
      await form.getByLabel("Description", { exact: true }).fill("How we run things");
      await form.getByRole("button", { name: "Create space" }).click();
      await owner.getByRole("heading", { name: "Operations", level: 1 }).waitFor({ timeout: WAIT });
      await owner.getByRole("button", { name: "New page" }).click();
      const dialog = owner.getByRole("dialog", { name: "New page" });
      await dialog.getByLabel("Title", { exact: true }).fill("Rolling restarts");
      await dialog.getByRole("button", { name: "Create page" }).click();

      const editor = owner.getByRole("form", { name: "Edit page" });
      await editor.getByLabel("Markdown", { exact: true }).waitFor({ timeout: WAIT });
      await editor.getByLabel("Markdown", { exact: true }).fill("## Before\n\nDrain each **node** first.\n\n| step | who |\n|---|---|\n| drain | ops |");
      const preview = owner.getByTestId("preview");
      await preview.locator("strong", { hasText: "node" }).waitFor({ timeout: WAIT });
      await preview.locator("table td", { hasText: "drain" }).waitFor();
      await editor.getByLabel("Tags", { exact: true }).fill("team=ops, runbook");
      await editor.getByLabel("What changed", { exact: true }).fill("First words");
      await shoot(owner, "knowledge-editor");
      await editor.getByRole("button", { name: "Save" }).click();
      await owner.getByRole("status").getByText("Saved revision 2").waitFor({ timeout: WAIT });
      await owner.getByTestId("page-html").locator("strong", { hasText: "node" }).waitFor({ timeout: WAIT });
      await owner.getByRole("list", { name: "Tags" }).getByText("team: ops").waitFor();

      await owner.getByRole("tab", { name: "Edit" }).click();
      await editor.getByLabel("Markdown", { exact: true }).fill("## Before\n\nDrain every **pod** first.");
      await editor.getByRole("button", { name: "Save" }).click();
      await owner.getByRole("status").getByText("Saved revision 3").waitFor({ timeout: WAIT });
      await shoot(owner, "knowledge-page");

      await owner.getByRole("tab", { name: "Revisions" }).click();
      const diff = owner.getByRole("table", { name: "Side-by-side diff of revision 2 and revision 3" });
      await diff.locator('td[data-side="from"]', { hasText: "Drain each **node** first." }).waitFor({ timeout: WAIT });
      await diff.locator('td[data-side="to"]', { hasText: "Drain every **pod** first." }).waitFor();
      await shoot(owner, "knowledge-revisions");
      await owner.getByRole("button", { name: "Restore revision 2" }).click();
      await owner.getByRole("status").getByText("Restored revision 2 as revision 4").waitFor({ timeout: WAIT });
      await owner.getByTestId("page-meta").getByText(/revision 4/).waitFor({ timeout: WAIT });
      await owner.getByRole("tab", { name: "Page" }).click();
      await owner.getByTestId("page-html").locator("strong", { hasText: "node" }).waitFor({ timeout: WAIT });

      await owner.goto(`${UI}/knowledge/search?q=${encodeURIComponent('"drain each" [team=ops]')}&mode=SEARCH_MODE_FULL_TEXT`);
      const hit = owner.locator('li[data-hit="Rolling restarts"]');
      await hit.waitFor({ timeout: WAIT });
      const marks = await hit.getByTestId("snippet").locator("mark").allTextContents();
      const marked = new Set(marks.map((m) => m.toLowerCase()));
      check(marked.size === 2 && marked.has("drain") && marked.has("each"), `the snippet marks ${JSON.stringify(marks)}`);
      await shoot(owner, "knowledge-search");

      // The tree: a child page, moved to the top, trashed and restored from the bin.
      await owner.goto(`${UI}/knowledge`);
      await owner.getByRole("link", { name: /^Operations/ }).click();
      await owner.getByRole("button", { name: "Add a page under Rolling restarts" }).click();
      const child = owner.getByRole("dialog", { name: "New page under Rolling restarts" });
      await child.getByLabel("Title", { exact: true }).fill("Draining a node");
      await child.getByRole("button", { name: "Create page" }).click();
      await owner.getByRole("form", { name: "Edit page" }).waitFor({ timeout: WAIT });
      await owner.getByRole("navigation", { name: "Breadcrumb" }).getByRole("link", { name: "Operations" }).click();
      await owner.getByRole("button", { name: "Pages under Rolling restarts" }).click();
      await owner.getByRole("listitem", { name: "Draining a node" }).waitFor({ timeout: WAIT });
      await owner.getByRole("button", { name: "Trash Rolling restarts" }).click();
      await owner.locator('tr[data-trashed="Rolling restarts"]').waitFor({ timeout: WAIT });
      await owner.getByRole("list", { name: "Pages" }).getByRole("listitem", { name: "Rolling restarts" }).waitFor({ state: "detached", timeout: WAIT });
      await owner.getByRole("button", { name: "Restore Rolling restarts" }).click();
      await owner.getByRole("list", { name: "Pages" }).getByRole("listitem", { name: "Rolling restarts" }).waitFor({ timeout: WAIT });
      await owner.getByRole("button", { name: "Pages under Rolling restarts" }).click();
      await owner.getByRole("button", { name: "Move Draining a node" }).click();
      const move = owner.getByRole("dialog", { name: "Move Draining a node" });
      await move.getByLabel("New parent", { exact: true }).selectOption({ label: "Top of the space" });
      await move.getByRole("button", { name: "Move" }).click();
      await owner.locator('ul[data-depth="0"] > li[data-page="Draining a node"]').waitFor({ timeout: WAIT });
      await shoot(owner, "knowledge-space");
    },
  ],
  [
    "an external MCP server is registered, its discovered tool tried through a form made from its schema; a collection is created and listed",
    async ({ owner }) => {
      await owner.goto(`${UI}/mcp/servers`);
      await owner.getByRole("heading", { name: "External MCP servers", level: 1 }).waitFor({ timeout: WAIT });
      const form = owner.getByRole("form", { name: "Add a server" });
      await form.getByLabel("Name", { exact: true }).fill("e2etools");
      await form.getByLabel("URL", { exact: true }).fill(MCP_URL);
      await form.getByLabel("Description", { exact: true }).fill("The e2e run's MCP server");
      await form.getByRole("button", { name: "Add server" }).click();
      const card = owner.getByRole("article", { name: "Server e2etools" });
      await card.getByRole("link", { name: "e2etools.echo" }).waitFor({ timeout: WAIT });
      await shoot(owner, "mcp-servers");
      await card.getByRole("link", { name: "e2etools.echo" }).click();
      const tryIt = owner.getByRole("form", { name: "Try e2etools.echo" });
      await tryIt.getByRole("button", { name: "Call e2etools.echo" }).click();
      await tryIt.getByText("Required", { exact: true }).waitFor({ timeout: WAIT });
      await tryIt.getByLabel("Text (required)", { exact: true }).fill("hello gateway");
      await tryIt.getByRole("button", { name: "Call e2etools.echo" }).click();
      const structured = owner.getByTestId("structured-result");
      await structured.waitFor({ timeout: WAIT });
      const result = JSON.parse(await structured.textContent());
      check(result.echoed === "hello gateway" && result.length === 13, `the tool answered ${JSON.stringify(result)}`);
      await shoot(owner, "mcp-try-tool");

      await owner.goto(`${UI}/embeddings`);
      await owner.getByRole("heading", { name: "Embeddings", level: 1 }).waitFor({ timeout: WAIT });
      const create = owner.getByRole("form", { name: "New collection" });
      await create.getByLabel("Name", { exact: true }).fill("handbook");
      await create.getByLabel("Description", { exact: true }).fill("The team handbook");
      await create.getByRole("button", { name: "Create collection" }).click();
      await owner.getByRole("heading", { name: "handbook", level: 1 }).waitFor({ timeout: WAIT });
      // Two files indexed by a job, its progress followed over the :watch stream to the end.
      await owner.getByLabel("Markdown or text files", { exact: true }).setInputFiles([
        { name: "oncall.md", mimeType: "text/markdown", buffer: Buffer.from("# On call\n\nPage the secondary after ten minutes.") },
        { name: "deploys.md", mimeType: "text/markdown", buffer: Buffer.from("# Deploys\n\nShip on Tuesdays, never on Fridays.") },
      ]);
      await owner.getByRole("button", { name: "Index 2 files" }).click();
      const job = owner.locator("li[data-job]");
      await job.getByTestId("job-state").getByText("Succeeded").waitFor({ timeout: 4 * WAIT });
      check((await job.getByRole("progressbar").getAttribute("aria-valuenow")) === "100", "the finished job's progress is not 100 %");
      await owner.getByRole("table", { name: "Documents" }).getByRole("cell", { name: "deploys.md", exact: true }).waitFor({ timeout: WAIT });
      await owner.getByLabel("Query", { exact: true }).fill("Fridays");
      await owner.getByRole("search").getByRole("button", { name: "Search" }).click();
      await owner.getByRole("list", { name: "Hits" }).locator("mark", { hasText: "Fridays" }).first().waitFor({ timeout: WAIT });
      await shoot(owner, "embeddings-collection");
      await owner.getByRole("navigation", { name: "Breadcrumb" }).getByRole("link", { name: "Embeddings" }).click();
      await owner.locator('tr[data-collection="handbook"]').getByRole("link", { name: "handbook" }).waitFor({ timeout: WAIT });
      await shoot(owner, "embeddings-collections");
    },
  ],
  [
    "OIDC: Continue with the provider on the sign-in page, pick the user at the provider, and come back signed in",
    async ({ browser }) => {
      check(!!OIDC_ISSUER, "OIDC_ISSUER is not set");
      // The provider's user has the owner's verified email: the sign-in is the owner's account.
      const put = await fetch(`${OIDC_ISSUER}/users/oidc-owner`, {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email: OWNER.email, email_verified: true, name: "Owner through OIDC" }),
      });
      check(put.ok, `the provider answered ${put.status}`);
      const context = await browser.newContext(CONTEXT);
      const page = await context.newPage();
      await page.goto(`${UI}/sign-in`);
      await page.getByRole("link", { name: "Continue with mock" }).click();
      await page.waitForURL((url) => url.href.startsWith(`${OIDC_ISSUER}/oauth2/authorize`), { timeout: WAIT });
      const redirect = new URL(page.url()).searchParams.get("redirect_uri");
      check(redirect === `${UI}/api/auth/oidc/mock/callback`, `the provider sends the browser back to ${redirect}`);
      await page.locator('input[name="sub"]').fill("oidc-owner");
      await page.getByRole("button", { name: "Authorize" }).click();
      await page.waitForURL(/\/planning$/, { timeout: WAIT });
      await page.getByRole("heading", { name: "Projects", level: 1 }).waitFor({ timeout: WAIT });
      check((await page.getByRole("complementary").textContent()).includes(OWNER.email), "the frame does not show the owner's account");
      // The refresh cookie the BFF set keeps the session across a reload, and the API answers.
      await page.reload();
      await page.getByRole("heading", { name: "Projects", level: 1 }).waitFor({ timeout: WAIT });
      await page.getByRole("link", { name: "Launch" }).waitFor({ timeout: WAIT });
      const cookies = await context.cookies([`${UI}/api/auth/refresh`, `${UI}/api/auth/oidc/mock/callback`]);
      check(cookies.some((c) => c.name === "coder_ui_refresh" && c.httpOnly), "no httpOnly refresh cookie on the UI's origin");
      check(!cookies.some((c) => c.name === "coder_ui_oidc" && c.value), "the OIDC binding cookie stayed");
      await context.close();
    },
  ],
  [
    "every other page has no serious or critical accessibility violation",
    async ({ owner }) => {
      for (const path of [
        "/planning",
        "/settings/organization",
        "/settings/organization/members",
        "/settings/organization/roles",
        "/settings/organization/teams",
        "/settings/organization/service-accounts",
        "/account",
        "/usage/limits",
        "/usage/prices",
        "/secrets?dialog=new",
      ]) {
        await owner.goto(`${UI}${path}`);
        // A modal dialog hides the page's heading from the accessibility tree.
        await (path.includes("dialog=") ? owner.getByRole("dialog") : owner.getByRole("heading", { level: 1 }))
          .waitFor({ timeout: WAIT })
          .catch((error) => {
            throw new Error(`${path} showed no heading: ${error.message}`);
          });
        await owner.waitForLoadState("networkidle");
        const name = path.slice(1).replaceAll("/", "-");
        if (path === "/planning" || path.endsWith("members")) await shoot(owner, name);
        else await axe(owner, name);
      }
      // A custom role is created, then its permissions changed.
      await owner.goto(`${UI}/settings/organization/roles`);
      await owner.getByLabel("Role name", { exact: true }).fill("Planner");
      await owner.getByRole("button", { name: "Create role" }).click();
      const permissions = owner.getByLabel("Permissions of Planner", { exact: true });
      await permissions.waitFor({ timeout: WAIT });
      await permissions.fill("planning.*.read planning.task.write");
      await owner.getByRole("button", { name: "Save Planner" }).click();
      await owner.getByRole("status").getByText("Saved Planner").waitFor({ timeout: WAIT });
      await owner.reload();
      check(
        (await owner.getByLabel("Permissions of Planner", { exact: true }).inputValue({ timeout: WAIT })) ===
          "planning.*.read planning.task.write",
        "the role's new permissions were not kept",
      );
      await axe(owner, "roles with a custom role");

      await owner.goto(`${UI}/planning`);
      await owner.getByRole("button", { name: /^Organization: / }).focus();
      await owner.keyboard.press("Enter");
      await owner.getByRole("menuitem", { name: /^Development/ }).waitFor({ timeout: WAIT });
      await axe(owner, "organization menu");
      await owner.keyboard.press("Escape");
      await owner.keyboard.press("Control+k");
      await owner.getByRole("dialog", { name: "Command palette" }).waitFor();
      await shoot(owner, "command-palette");
      await owner.keyboard.press("Escape");
      const bad = accessibility.filter((a) => a.violations.length > 0);
      check(
        bad.length === 0,
        bad.map((a) => `${a.name}: ${a.violations.map((v) => `${v.id} (${v.impact}) ${v.nodes[0]?.target}`).join("; ")}`).join("\n"),
      );
    },
  ],
];

const browser = await chromium.launch(LAUNCH_OPTIONS);
// Reduced motion: no color transition is caught half-way by a screenshot or by axe.
const CONTEXT = { reducedMotion: "reduce" };
const owner = await (await browser.newContext(CONTEXT)).newPage();
const member = await (await browser.newContext(CONTEXT)).newPage();
// E2E_ONLY=<regex> runs the first test (sign-in) and those whose name matches (for working on
// one page); the full run (tests/ui/test_e2e.py) sets nothing.
const only = process.env.E2E_ONLY ? new RegExp(process.env.E2E_ONLY) : null;
let passed = 0;
let failed = 0;
for (const [index, [name, test]] of tests.entries()) {
  if (only && index > 0 && !only.test(name)) continue;
  try {
    await test({ owner, member, browser });
    passed += 1;
    console.log(`ok - ${name}`);
  } catch (error) {
    failed += 1;
    console.log(`FAILED - ${name}\n${error.stack ?? error}`);
    await owner.screenshot({ path: join(OUT, `failure-${passed + failed}-owner.png`) }).catch(() => undefined);
    await member.screenshot({ path: join(OUT, `failure-${passed + failed}-member.png`) }).catch(() => undefined);
  }
}
await browser.close();
console.log(`e2e: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
