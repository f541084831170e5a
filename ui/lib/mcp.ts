/** MCP types and the "try the tool" form: the fields of a tool's input JSON Schema, and the
 * values typed into them as the tool's arguments. */
import type { Schemas } from "./api";

type Named<T> = Exclude<T, number>;

export type ToolSource = Named<Schemas["coder.mcp.v1.ToolSource"]>;
export type Tool = Omit<Schemas["coder.mcp.v1.Tool"], "source"> & { source?: ToolSource };
export type Server = Omit<Schemas["coder.mcp.v1.Server"], "tools"> & { tools?: Tool[] };
export type CallResult = Schemas["coder.mcp.v1.CallToolResponse"];

export const serversKey = ["mcp", "servers"] as const;
export const toolsKey = ["mcp", "tools"] as const;

type JsonSchema = {
  type?: string | string[];
  title?: string;
  description?: string;
  enum?: unknown[];
  default?: unknown;
  items?: JsonSchema;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  minimum?: number;
  maximum?: number;
};

/** How a field is typed in: a plain input per scalar, a select for an enum or a boolean, a
 * list (one item a line) for an array of scalars, JSON text for anything else. */
export type FieldKind = "string" | "integer" | "number" | "boolean" | "enum" | "list" | "json";

export type SchemaField = {
  name: string;
  label: string;
  description: string;
  kind: FieldKind;
  itemKind?: "string" | "integer" | "number";
  required: boolean;
  options: string[];
  initial: string;
};

function typeOf(schema: JsonSchema | undefined): string {
  const type = schema?.type;
  if (Array.isArray(type)) return type.find((t) => t !== "null") ?? "";
  return type ?? "";
}

/** The form fields of an object schema's properties, required ones first, then by name. */
export function schemaFields(inputSchema: unknown): SchemaField[] {
  const schema = (inputSchema ?? {}) as JsonSchema;
  const required = new Set(schema.required ?? []);
  return Object.entries(schema.properties ?? {})
    .map(([name, property]): SchemaField => {
      const type = typeOf(property);
      const itemType = typeOf(property.items);
      let kind: FieldKind;
      let itemKind: SchemaField["itemKind"];
      if (property.enum?.every((v) => typeof v === "string")) kind = "enum";
      else if (type === "string" || type === "integer" || type === "number" || type === "boolean") kind = type;
      else if (type === "array" && (itemType === "string" || itemType === "integer" || itemType === "number") && !property.items?.enum) {
        kind = "list";
        itemKind = itemType;
      } else kind = "json";
      const fallback = property.default;
      let initial = "";
      if (fallback !== undefined) {
        if (kind === "list" && Array.isArray(fallback)) initial = fallback.join("\n");
        else if (kind === "json") initial = JSON.stringify(fallback, null, 2);
        else initial = String(fallback);
      }
      return {
        name,
        label: property.title || name,
        description: property.description ?? "",
        kind,
        ...(itemKind ? { itemKind } : {}),
        required: required.has(name),
        options: kind === "enum" ? (property.enum as string[]) : [],
        initial,
      };
    })
    .sort((a, b) => Number(b.required) - Number(a.required) || a.name.localeCompare(b.name));
}

export type Arguments = { ok: true; value: Record<string, unknown> } | { ok: false; errors: Record<string, string> };

function scalar(kind: "string" | "integer" | "number", raw: string): { ok: true; value: unknown } | { ok: false; error: string } {
  if (kind === "string") return { ok: true, value: raw };
  const number = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(number)) return { ok: false, error: "Enter a number" };
  if (kind === "integer" && !Number.isInteger(number)) return { ok: false, error: "Enter a whole number" };
  return { ok: true, value: number };
}

/** The arguments of the typed values: an empty optional field is left out (the tool's default
 * applies), an empty required one is an error, as is a value of the wrong type. */
export function toArguments(fields: SchemaField[], values: Record<string, string>): Arguments {
  const value: Record<string, unknown> = {};
  const errors: Record<string, string> = {};
  for (const field of fields) {
    const raw = values[field.name] ?? "";
    if (raw.trim() === "") {
      if (field.required) errors[field.name] = "Required";
      continue;
    }
    if (field.kind === "boolean") value[field.name] = raw === "true";
    else if (field.kind === "enum" || field.kind === "string") value[field.name] = raw;
    else if (field.kind === "integer" || field.kind === "number") {
      const parsed = scalar(field.kind, raw);
      if (parsed.ok) value[field.name] = parsed.value;
      else errors[field.name] = parsed.error;
    } else if (field.kind === "list") {
      const items = raw
        .split("\n")
        .map((line) => line.trim())
        .filter(Boolean)
        .map((line) => scalar(field.itemKind ?? "string", line));
      const bad = items.find((item) => !item.ok);
      if (bad && !bad.ok) errors[field.name] = `Each line: ${bad.error.toLowerCase()}`;
      else value[field.name] = items.map((item) => (item.ok ? item.value : null));
    } else {
      try {
        value[field.name] = JSON.parse(raw);
      } catch {
        errors[field.name] = "Enter JSON";
      }
    }
  }
  return Object.keys(errors).length ? { ok: false, errors } : { ok: true, value };
}

/** The text blocks of a tool's content, joined (other block types are named). */
export function contentText(content: unknown[] | undefined): string {
  return (content ?? [])
    .map((block) => {
      const b = block as { type?: string; text?: string };
      return b.type === "text" ? (b.text ?? "") : `[${b.type ?? "block"}]`;
    })
    .join("\n");
}
