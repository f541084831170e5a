/** Prompt Management in the browser: types as answers carry them, the folder view of a list,
 * variables' form values to JSON, and the unified diff the service answers as side-by-side
 * rows. */
import type { Schemas } from "./api";

type Named<T> = Exclude<T, number>;

export type PromptType = Named<Schemas["coder.prompt.v1.PromptType"]>;
export type VariableType = Exclude<Named<Schemas["coder.prompt.v1.VariableType"]>, "VARIABLE_TYPE_UNSPECIFIED">;
export type MessageRole = Named<Schemas["coder.prompt.v1.MessageRole"]>;
export type ResponseFormat = Named<Schemas["coder.prompt.v1.ResponseFormat"]>;
export type ExperimentState = Named<Schemas["coder.prompt.v1.ExperimentState"]>;
export type ChangeKind = Named<Schemas["coder.prompt.v1.ChangeKind"]>;
export type Prompt = Omit<Schemas["coder.prompt.v1.Prompt"], "type"> & { type?: PromptType };
export type Label = Schemas["coder.prompt.v1.Label"];
export type Variable = Omit<Schemas["coder.prompt.v1.Variable"], "type"> & { type: VariableType };
export type ChatMessage = Omit<Schemas["coder.prompt.v1.ChatMessage"], "role"> & { role?: MessageRole };
export type ModelConfig = Omit<Schemas["coder.prompt.v1.ModelConfig"], "responseFormat"> & {
  responseFormat?: ResponseFormat;
};
export type PromptVersion = Omit<Schemas["coder.prompt.v1.PromptVersion"], "variables" | "messages" | "modelConfig"> & {
  variables?: Variable[];
  messages?: ChatMessage[];
  modelConfig?: ModelConfig;
};
export type Experiment = Omit<Schemas["coder.prompt.v1.Experiment"], "state"> & { state?: ExperimentState };
export type VariantResult = Schemas["coder.prompt.v1.VariantResult"];
export type FieldChange = Omit<Schemas["coder.prompt.v1.FieldChange"], "kind"> & { kind?: ChangeKind };

export const VARIABLE_TYPES: { value: VariableType; label: string }[] = [
  { value: "VARIABLE_TYPE_STRING", label: "String" },
  { value: "VARIABLE_TYPE_INTEGER", label: "Integer" },
  { value: "VARIABLE_TYPE_NUMBER", label: "Number" },
  { value: "VARIABLE_TYPE_BOOLEAN", label: "Boolean" },
  { value: "VARIABLE_TYPE_LIST", label: "List (JSON)" },
  { value: "VARIABLE_TYPE_OBJECT", label: "Object (JSON)" },
];

export const ROLES: { value: MessageRole; label: string }[] = [
  { value: "MESSAGE_ROLE_SYSTEM", label: "System" },
  { value: "MESSAGE_ROLE_USER", label: "User" },
  { value: "MESSAGE_ROLE_ASSISTANT", label: "Assistant" },
];

export function roleLabel(role: MessageRole | undefined): string {
  return ROLES.find((r) => r.value === role)?.label ?? "—";
}

export const EXPERIMENT_STATES: Record<ExperimentState, string> = {
  EXPERIMENT_STATE_UNSPECIFIED: "—",
  EXPERIMENT_STATE_DRAFT: "Draft",
  EXPERIMENT_STATE_RUNNING: "Running",
  EXPERIMENT_STATE_STOPPED: "Stopped",
};

/** The folder of a prompt name (`team` for `team/review`, empty at the top), as the service
 * computes it. */
export function folderOf(name: string): string {
  const cut = name.lastIndexOf("/");
  return cut === -1 ? "" : name.slice(0, cut);
}

/** Prompts grouped by folder, folders by name (the top level first), prompts by name. */
export function byFolder<T extends { name?: string }>(prompts: T[]): { folder: string; prompts: T[] }[] {
  const groups = new Map<string, T[]>();
  for (const prompt of prompts) {
    const folder = folderOf(prompt.name ?? "");
    const group = groups.get(folder);
    if (group) group.push(prompt);
    else groups.set(folder, [prompt]);
  }
  return [...groups.entries()]
    .sort(([a], [b]) => (a === "" ? -1 : b === "" ? 1 : a.localeCompare(b)))
    .map(([folder, items]) => ({ folder, prompts: items.sort((x, y) => (x.name ?? "").localeCompare(y.name ?? "")) }));
}

/** Every folder a set of prompt names lives in, with their parents (`a/b` gives `a` and `a/b`). */
export function foldersOf(names: string[]): string[] {
  const folders = new Set<string>();
  for (const name of names) {
    const parts = folderOf(name).split("/").filter(Boolean);
    for (let i = 1; i <= parts.length; i += 1) folders.add(parts.slice(0, i).join("/"));
  }
  return [...folders].sort();
}

export type ValueResult = { ok: true; value: unknown } | { ok: false; error: string };

/** A variables-form entry as the JSON value RenderPrompt / PreviewPrompt take, or why it is not
 * one of the variable's type. An empty entry is "no value" (`undefined`). */
export function parseVariable(type: VariableType, raw: string | boolean): ValueResult {
  if (type === "VARIABLE_TYPE_BOOLEAN") return { ok: true, value: raw === true || raw === "true" };
  const text = typeof raw === "string" ? raw : String(raw);
  if (text.trim() === "") return { ok: true, value: undefined };
  switch (type) {
    case "VARIABLE_TYPE_STRING":
      return { ok: true, value: text };
    case "VARIABLE_TYPE_INTEGER":
      return /^-?\d+$/.test(text.trim()) ? { ok: true, value: Number(text) } : { ok: false, error: "A whole number" };
    case "VARIABLE_TYPE_NUMBER": {
      const value = Number(text);
      return Number.isFinite(value) ? { ok: true, value } : { ok: false, error: "A number" };
    }
    default: {
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        return { ok: false, error: "Not valid JSON" };
      }
      if (type === "VARIABLE_TYPE_LIST" && !Array.isArray(value)) return { ok: false, error: "A JSON array" };
      if (type === "VARIABLE_TYPE_OBJECT" && (typeof value !== "object" || value === null || Array.isArray(value)))
        return { ok: false, error: "A JSON object" };
      return { ok: true, value };
    }
  }
}

/** A JSON value shown in a form field of its type (the reverse of parseVariable). */
export function formatVariable(type: VariableType, value: unknown): string {
  if (value === undefined || value === null) return "";
  if (type === "VARIABLE_TYPE_STRING" && typeof value === "string") return value;
  if (type === "VARIABLE_TYPE_LIST" || type === "VARIABLE_TYPE_OBJECT") return JSON.stringify(value);
  return String(value);
}

export type DiffCell = { number: number; text: string };
export type DiffRow =
  | { kind: "hunk"; header: string }
  | { kind: "same" | "changed" | "removed" | "added"; left?: DiffCell; right?: DiffCell };

/** The service's unified diff (`---`/`+++`, `@@ -a,b +c,d @@` hunks) as side-by-side rows: a
 * run of removed lines faces the run of added lines that follows it, line by line. */
export function sideBySide(unified: string): DiffRow[] {
  const rows: DiffRow[] = [];
  let left = 0;
  let right = 0;
  let removed: DiffCell[] = [];
  let added: DiffCell[] = [];
  const flush = () => {
    const count = Math.max(removed.length, added.length);
    for (let i = 0; i < count; i += 1) {
      const l = removed[i];
      const r = added[i];
      rows.push({ kind: l && r ? "changed" : l ? "removed" : "added", left: l, right: r });
    }
    removed = [];
    added = [];
  };
  let inHunk = false;
  for (const line of unified.split("\n")) {
    const hunk = /^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@/.exec(line);
    if (hunk) {
      flush();
      left = Number(hunk[1]);
      right = Number(hunk[2]);
      inHunk = true;
      rows.push({ kind: "hunk", header: line });
      continue;
    }
    if (!inHunk || line.startsWith("\\")) continue; // headers before the first hunk; "\ No newline"
    if (line.startsWith("-")) removed.push({ number: left++, text: line.slice(1) });
    else if (line.startsWith("+")) added.push({ number: right++, text: line.slice(1) });
    else if (line.startsWith(" ")) {
      flush();
      rows.push({ kind: "same", left: { number: left++, text: line.slice(1) }, right: { number: right++, text: line.slice(1) } });
    }
  }
  flush();
  return rows;
}

/** A field change's value as text (`—` when absent). */
export function showValue(value: unknown): string {
  if (value === undefined || value === null) return "—";
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** The label names of a prompt a person may move: every one but `latest` (the service's). */
export function movableLabels(prompt: Prompt | undefined): Label[] {
  return (prompt?.labels ?? []).filter((label) => label.name !== "latest");
}

/** Why the service would refuse to delete a version (DeletePromptVersion), as far as the page
 * can tell: the only version, or one a label other than `latest` points at. A running
 * experiment's use is known only to the service, whose refusal the confirmation then shows. */
export function deletionBlocker(prompt: Prompt, versions: PromptVersion[], version: number): string | null {
  if (versions.length <= 1) return "It is the only version; delete the prompt instead.";
  const held = movableLabels(prompt)
    .filter((label) => label.version === version)
    .map((label) => label.name);
  if (held.length) return `The label${held.length === 1 ? "" : "s"} ${held.join(", ")} point${held.length === 1 ? "s" : ""} at it; move ${held.length === 1 ? "it" : "them"} first.`;
  return null;
}

/** The organization's prompt that overrides a shared one: its own prompt of the same name. */
export function overrideOf(shared: Prompt, own: Prompt[]): Prompt | undefined {
  return own.find((prompt) => prompt.overridesShared && prompt.name === shared.name);
}

/** A success rate and its interval as percentages, one decimal. */
export function percent(rate: number | undefined): string {
  return `${((rate ?? 0) * 100).toFixed(1)} %`;
}

export const promptsKey = ["prompts"] as const;

const RESERVED = new Set(["loop", "true", "false", "none", "True", "False", "None", "range", "not"]);

/** The variable names a template reads at the start of `{{ … }}`, `{% if … %}` and
 * `{% for x in … %}`, without the loops' own names: what the create dialog declares. */
export function templateVariables(template: string): string[] {
  const bound = new Set<string>();
  for (const match of template.matchAll(/\{%-?\s*for\s+([A-Za-z_][A-Za-z0-9_]*(?:\s*,\s*[A-Za-z_][A-Za-z0-9_]*)*)\s+in\b/g)) {
    for (const name of (match[1] ?? "").split(",")) bound.add(name.trim());
  }
  const names = new Set<string>();
  const patterns = [
    /\{\{-?\s*([A-Za-z_][A-Za-z0-9_]*)/g,
    /\{%-?\s*(?:if|elif)\s+(?:not\s+)?([A-Za-z_][A-Za-z0-9_]*)/g,
    /\{%-?\s*for\s+[^%]*?\bin\s+([A-Za-z_][A-Za-z0-9_]*)/g,
  ];
  for (const pattern of patterns) {
    for (const match of template.matchAll(pattern)) {
      const name = match[1] ?? "";
      if (!bound.has(name) && !RESERVED.has(name)) names.add(name);
    }
  }
  return [...names];
}
