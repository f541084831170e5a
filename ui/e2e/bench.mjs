// Benchmarks of the web UI in Chromium against a running `coder dev` (scripts/bench/ui.py
// starts one): first-load JS per route (gzipped, as the browser loads it) and the board's time
// to interactive with 50 and with 500 tasks, side by side. Prints a Markdown table.
import { gzipSync } from "node:zlib";
import { chromium } from "playwright-core";
import { LAUNCH_OPTIONS } from "./launch.mjs";

const UI = process.env.UI_URL;
const EDGE = process.env.EDGE_URL;
const OWNER = { email: process.env.OWNER_EMAIL, password: process.env.OWNER_PASSWORD };
const RUNS = Number(process.env.RUNS ?? 5);

async function edge(path, token, body) {
  const response = await fetch(`${EDGE}${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
  return response.json();
}

async function projectWith(token, count) {
  const { project } = await edge("/api/v1/planning/projects", token, { name: `Bench ${count}` });
  const statuses = ["TASK_STATUS_TO_DO", "TASK_STATUS_IN_PROGRESS", "TASK_STATUS_BLOCKED", "TASK_STATUS_DONE"];
  for (let start = 0; start < count; start += 25) {
    await Promise.all(
      Array.from({ length: Math.min(25, count - start) }, (_, i) =>
        edge(`/api/v1/planning/projects/${project.id}/tasks`, token, {
          title: `Task ${start + i + 1}`,
          status: statuses[(start + i) % statuses.length],
        }),
      ),
    );
  }
  return project.id;
}

const median = (values) => values.slice().sort((a, b) => a - b)[Math.floor(values.length / 2)];

const login = await edge("/auth/login", null, { ...OWNER, returnRefreshToken: true });
const projects = { 50: await projectWith(login.accessToken, 50), 500: await projectWith(login.accessToken, 500) };
const { endpoint } = await edge("/api/v1/notification/webhooks", login.accessToken, {
  url: "http://127.0.0.1:9/bench",
  eventTypes: ["planning.task.*"],
});
const { prompt } = await edge("/api/v1/prompt/prompts", login.accessToken, {
  prompt: { name: `bench/review-${Date.now()}`, type: "PROMPT_TYPE_TEXT" },
  version: { template: "Review {{ code }}", variables: [{ name: "code", type: "VARIABLE_TYPE_STRING", required: true }] },
});

const browser = await chromium.launch(LAUNCH_OPTIONS);
const context = await browser.newContext();
// The sign-in page as a visitor sees it: a signed-in browser is sent on to /planning.
const visitor = await browser.newContext();
const page = await context.newPage();
const scripts = new Map();

// Sign in once through the UI (the refresh cookie then lives in this context).
await page.goto(`${UI}/sign-in`);
await page.getByLabel("Email").fill(OWNER.email);
await page.getByLabel("Password").fill(OWNER.password);
await page.getByRole("button", { name: "Sign in" }).click();
await page.waitForURL(/\/planning$/);

const routes = [];
for (const [name, path, ready] of [
  ["/sign-in", "/sign-in", (p) => p.getByRole("heading", { name: "Sign in" }).waitFor()],
  ["/planning", "/planning", (p) => p.getByRole("heading", { name: "Projects" }).waitFor()],
  ["/planning/[projectId] (board)", `/planning/${projects[50]}`, (p) => p.getByRole("listitem", { name: "Done", exact: true }).waitFor()],
  ["/prompts", "/prompts", (p) => p.getByRole("heading", { name: "Prompts", level: 1 }).waitFor()],
  ["/prompts/[promptId] (editor)", `/prompts/${prompt.id}`, (p) => p.getByLabel("Template", { exact: true }).waitFor()],
  ["/secrets", "/secrets", (p) => p.getByRole("heading", { name: "Secrets", level: 1 }).waitFor()],
  ["/ai/playground", "/ai/playground", (p) => p.getByLabel("Message", { exact: true }).waitFor()],
  ["/usage", "/usage", (p) => p.getByRole("heading", { name: "Usage", level: 1 }).waitFor()],
  ["/notifications (inbox)", "/notifications", (p) => p.getByRole("heading", { name: "Notifications", level: 1 }).waitFor()],
  ["/notifications/preferences", "/notifications/preferences", (p) => p.getByLabel("Time zone", { exact: true }).first().waitFor()],
  ["/notifications/webhooks", "/notifications/webhooks", (p) => p.getByRole("heading", { name: "Webhook endpoints", level: 1 }).waitFor()],
  ["/notifications/webhooks/[endpointId]", `/notifications/webhooks/${endpoint.id}`, (p) => p.getByRole("heading", { name: "Delivery log" }).waitFor()],
  ["/notifications/templates", "/notifications/templates", (p) => p.getByRole("heading", { name: "Notification templates", level: 1 }).waitFor()],
]) {
  // First-load JS: the scripts the page loads before its `load` event. Link prefetches of
  // other routes come after it, so they do not count.
  scripts.clear();
  const fresh = await (name === "/sign-in" ? visitor : context).newPage();
  let loaded = false;
  fresh.on("load", () => (loaded = true));
  fresh.on("response", async (response) => {
    if (loaded || response.request().resourceType() !== "script" || !response.url().startsWith(UI)) return;
    const url = response.url();
    scripts.set(url, 0);
    try {
      scripts.set(url, gzipSync(await response.body()).length);
    } catch {
      // no body
    }
  });
  await fresh.goto(`${UI}${path}`, { waitUntil: "load" });
  await ready(fresh);
  await fresh.waitForLoadState("networkidle");
  if (process.env.VERBOSE) for (const [url, size] of scripts) console.error(name, (size / 1024).toFixed(1), url);
  const bytes = [...scripts.values()].reduce((a, b) => a + b, 0);
  routes.push([name, scripts.size, (bytes / 1024).toFixed(1)]);
  await fresh.close();
}

const tti = {};
for (const count of [50, 500]) {
  const times = [];
  for (let run = 0; run < RUNS; run += 1) {
    const fresh = await context.newPage();
    await fresh.goto(`${UI}/planning/${projects[count]}`, { waitUntil: "commit" });
    await fresh.waitForFunction((n) => document.querySelectorAll("[data-task-id]").length >= n, count, { timeout: 60_000, polling: "raf" });
    // Interactive: the board answers the keyboard (j focuses a card) on the next frame.
    await fresh.keyboard.press("j");
    await fresh.waitForFunction(() => document.activeElement?.hasAttribute("data-task-id"), null, { polling: "raf" });
    times.push(await fresh.evaluate(() => performance.now()));
    await fresh.close();
  }
  tti[count] = { median: median(times), all: times };
}
await browser.close();

console.log("| route | scripts | first-load JS (kB, gzipped) |");
console.log("|---|---|---|");
for (const [name, count, kb] of routes) console.log(`| ${name} | ${count} | ${kb} |`);
console.log("");
console.log("| board | time to interactive, median of " + RUNS + " (ms) | runs (ms) |");
console.log("|---|---|---|");
for (const count of [50, 500])
  console.log(`| ${count} tasks | ${tti[count].median.toFixed(0)} | ${tti[count].all.map((t) => t.toFixed(0)).join(", ")} |`);
