// End-to-end tests of the web UI in Debian's Chromium (playwright-core, no browser download)
// against a running `coder dev` (tests/ui/test_e2e.py starts one and sets the environment):
// UI_URL, EDGE_URL, OWNER_EMAIL, OWNER_PASSWORD; OUT_DIR receives the screenshots.
import AxeBuilder from "@axe-core/playwright";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { LAUNCH_OPTIONS } from "./launch.mjs";

const UI = process.env.UI_URL;
const OWNER = { email: process.env.OWNER_EMAIL, password: process.env.OWNER_PASSWORD };
const OUT = process.env.OUT_DIR ?? new URL("./.out", import.meta.url).pathname;
const WAIT = 15_000;

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
      ]) {
        await owner.goto(`${UI}${path}`);
        await owner.getByRole("heading", { level: 1 }).waitFor({ timeout: WAIT });
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
let passed = 0;
let failed = 0;
for (const [name, test] of tests) {
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
