/** Secret Management in the browser: types as answers carry them, the value form of each
 * secret type (its fields, and the SecretValue built from them and shown back), `.env` text,
 * and proto bytes for imports. Values live only in the component that revealed them. */
import type { Schemas } from "./api";

type Named<T> = Exclude<T, number>;

export type SecretType = Exclude<Named<Schemas["coder.secret.v1.SecretType"]>, "SECRET_TYPE_UNSPECIFIED">;
export type SecretScope = Exclude<Named<Schemas["coder.secret.v1.SecretScope"]>, "SECRET_SCOPE_UNSPECIFIED">;
export type SecretState = Named<Schemas["coder.secret.v1.SecretState"]>;
export type GranteeType = Exclude<Named<Schemas["coder.secret.v1.GranteeType"]>, "GRANTEE_TYPE_UNSPECIFIED">;
export type SecretAction = Exclude<Named<Schemas["coder.secret.v1.SecretAction"]>, "SECRET_ACTION_UNSPECIFIED">;
export type Secret = Omit<Schemas["coder.secret.v1.Secret"], "type" | "scope" | "state"> & {
  type?: SecretType;
  scope?: SecretScope;
  state?: SecretState;
};
export type SecretVersion = Schemas["coder.secret.v1.SecretVersion"];
export type SecretGrant = Omit<Schemas["coder.secret.v1.SecretGrant"], "granteeType" | "actions"> & {
  granteeType?: GranteeType;
  actions?: SecretAction[];
};
export type AccessRecord = Schemas["coder.secret.v1.AccessRecord"];
export type KeyUsage = Schemas["coder.secret.v1.KeyUsage"];
export type SecretValue = Record<string, Record<string, unknown> | undefined>;

export const SCOPES: { value: SecretScope; label: string }[] = [
  { value: "SECRET_SCOPE_ORGANIZATION", label: "Organization" },
  { value: "SECRET_SCOPE_TEAM", label: "Team" },
  { value: "SECRET_SCOPE_PROJECT", label: "Project" },
  { value: "SECRET_SCOPE_USER", label: "User (mine unless named)" },
];

/** A scope's short name: Organization, Team, Project, User. */
export function scopeName(scope: SecretScope | undefined): string {
  return SCOPES.find((s) => s.value === scope)?.label.split(" ")[0] ?? "—";
}

export const ACTIONS: { value: SecretAction; label: string }[] = [
  { value: "SECRET_ACTION_READ", label: "Read the value" },
  { value: "SECRET_ACTION_UPDATE", label: "Update" },
  { value: "SECRET_ACTION_DELETE", label: "Delete" },
  { value: "SECRET_ACTION_GRANT", label: "Grant" },
];

export const GRANTEES: { value: GranteeType; label: string }[] = [
  { value: "GRANTEE_TYPE_USER", label: "User" },
  { value: "GRANTEE_TYPE_TEAM", label: "Team" },
  { value: "GRANTEE_TYPE_ROLE", label: "Role" },
];

/** How one field of a value is entered: a line, several lines (`multiline`), a list of lines
 * (`list`), `.env` text (`env`) or a JSON object (`json`). */
export type ValueField = {
  key: string;
  label: string;
  kind?: "multiline" | "list" | "env" | "json";
  required?: boolean;
};

/** Each type's SecretValue member and its fields, as secret.proto declares them. */
export const TYPES: Record<SecretType, { label: string; member: string; fields: ValueField[] }> = {
  SECRET_TYPE_API_KEY: { label: "API key", member: "apiKey", fields: [{ key: "key", label: "Key", required: true }] },
  SECRET_TYPE_USERNAME_PASSWORD: {
    label: "Username and password",
    member: "usernamePassword",
    fields: [
      { key: "username", label: "Username", required: true },
      { key: "password", label: "Password", required: true },
    ],
  },
  SECRET_TYPE_OAUTH2_TOKEN: {
    label: "OAuth 2.0 token",
    member: "oauth2Token",
    fields: [
      { key: "accessToken", label: "Access token", required: true },
      { key: "refreshToken", label: "Refresh token" },
      { key: "tokenType", label: "Token type" },
      { key: "scopes", label: "Scopes (one a line)", kind: "list" },
      { key: "clientId", label: "Client id" },
      { key: "clientSecret", label: "Client secret" },
      { key: "tokenUrl", label: "Token endpoint" },
    ],
  },
  SECRET_TYPE_CERTIFICATE: {
    label: "Certificate",
    member: "certificate",
    fields: [
      { key: "certificatePem", label: "Certificate (PEM)", kind: "multiline", required: true },
      { key: "privateKeyPem", label: "Private key (PEM)", kind: "multiline" },
      { key: "chainPem", label: "Chain (PEM)", kind: "multiline" },
      { key: "privateKeyPassword", label: "Private key password" },
    ],
  },
  SECRET_TYPE_SSH_KEY: {
    label: "SSH key",
    member: "sshKey",
    fields: [
      { key: "privateKey", label: "Private key", kind: "multiline", required: true },
      { key: "publicKey", label: "Public key (derived when empty)" },
      { key: "passphrase", label: "Passphrase" },
    ],
  },
  SECRET_TYPE_CONNECTION_STRING: {
    label: "Connection string",
    member: "connectionString",
    fields: [{ key: "connectionString", label: "Connection string", required: true }],
  },
  SECRET_TYPE_JSON_CREDENTIAL: {
    label: "JSON credential",
    member: "jsonCredential",
    fields: [{ key: "document", label: "Document (a JSON object)", kind: "json", required: true }],
  },
  SECRET_TYPE_ENV_VARIABLE_SET: {
    label: "Environment variables",
    member: "envVariableSet",
    fields: [{ key: "variables", label: "Variables (NAME=value lines)", kind: "env", required: true }],
  },
  SECRET_TYPE_GENERIC: { label: "Generic", member: "generic", fields: [{ key: "value", label: "Value", kind: "multiline", required: true }] },
};

export const TYPE_OPTIONS = (Object.keys(TYPES) as SecretType[]).map((value) => ({ value, label: TYPES[value].label }));

export function typeLabel(type: SecretType | undefined): string {
  return type ? TYPES[type].label : "—";
}

/** `NAME=value` lines (comments, blanks and an `export ` prefix allowed; quotes around a value
 * dropped) as variables, or the first line that is not one. */
export function parseEnv(text: string): { ok: true; variables: Record<string, string> } | { ok: false; error: string } {
  const variables: Record<string, string> = {};
  for (const [index, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const match = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)$/.exec(line);
    if (!match) return { ok: false, error: `Line ${index + 1} is not NAME=value` };
    let value = (match[2] ?? "").trim();
    if (value.length >= 2 && (value[0] === '"' || value[0] === "'") && value.at(-1) === value[0]) value = value.slice(1, -1);
    variables[match[1] ?? ""] = value;
  }
  if (Object.keys(variables).length === 0) return { ok: false, error: "At least one NAME=value line" };
  return { ok: true, variables };
}

export function formatEnv(variables: Record<string, string>): string {
  return Object.entries(variables)
    .map(([name, value]) => `${name}=${/[\s#"']/.test(value) ? JSON.stringify(value) : value}`)
    .join("\n");
}

/** The form's texts as the SecretValue of a type, or the field errors that stop it. Empty
 * optional fields are left out. */
export function buildValue(
  type: SecretType,
  entries: Record<string, string>,
): { ok: true; value: SecretValue } | { ok: false; errors: Record<string, string> } {
  const { member, fields } = TYPES[type];
  const errors: Record<string, string> = {};
  const body: Record<string, unknown> = {};
  for (const field of fields) {
    const text = entries[field.key] ?? "";
    if (!text.trim()) {
      if (field.required) errors[field.key] = `${field.label.replace(/ \(.*\)$/, "")} is required`;
      continue;
    }
    if (field.kind === "env") {
      const parsed = parseEnv(text);
      if (parsed.ok) body[field.key] = parsed.variables;
      else errors[field.key] = parsed.error;
    } else if (field.kind === "json") {
      try {
        const document: unknown = JSON.parse(text);
        if (typeof document !== "object" || document === null || Array.isArray(document)) errors[field.key] = "A JSON object";
        else body[field.key] = document;
      } catch {
        errors[field.key] = "Not valid JSON";
      }
    } else if (field.kind === "list") {
      body[field.key] = text.split(/\r?\n/).map((s) => s.trim()).filter(Boolean);
    } else {
      body[field.key] = text;
    }
  }
  if (Object.keys(errors).length) return { ok: false, errors };
  return { ok: true, value: { [member]: body } };
}

/** A revealed value as label and text pairs, in the type's field order. */
export function showValue(type: SecretType, value: SecretValue | undefined): { label: string; text: string }[] {
  const { member, fields } = TYPES[type];
  const body = value?.[member] ?? {};
  return fields
    .filter((field) => body[field.key] !== undefined && body[field.key] !== "")
    .map((field) => {
      const item = body[field.key];
      const text =
        field.kind === "env"
          ? formatEnv(item as Record<string, string>)
          : field.kind === "json"
            ? JSON.stringify(item, null, 2)
            : field.kind === "list"
              ? (item as string[]).join("\n")
              : String(item);
      return { label: field.label, text };
    });
}

/** UTF-8 text as the base64 of proto3 JSON's `bytes`. */
export function toBase64(text: string): string {
  let binary = "";
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/** A secret name as the service takes it: a letter or `_` first, then letters, digits, `_ . -`. */
export const NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,127}$/;

/** TEAM and PROJECT secrets name their team or project; ORGANIZATION names none, USER the
 * caller unless an id is given. */
export function needsScopeId(scope: SecretScope): boolean {
  return scope === "SECRET_SCOPE_TEAM" || scope === "SECRET_SCOPE_PROJECT";
}

export type MoveForm = { name: string; scope: SecretScope; scopeId: string };
export type MoveBody = { name?: string; scope?: SecretScope; scopeId?: string; etag: string };

/** MoveSecret's body from the form: only what changes (an unchanged name or scope is left
 * out, as the service reads "keep"), with the etag the page read; or the field errors. */
export function moveRequest(
  secret: Secret,
  form: MoveForm,
): { ok: true; body: MoveBody } | { ok: false; errors: Record<string, string> } {
  const name = form.name.trim();
  const scopeId = form.scope === "SECRET_SCOPE_ORGANIZATION" ? "" : form.scopeId.trim();
  const errors: Record<string, string> = {};
  if (!NAME.test(name)) errors.name = "A letter or _ first, then letters, digits, _ . -";
  if (needsScopeId(form.scope) && !scopeId) errors.scopeId = "Which one";
  if (Object.keys(errors).length) return { ok: false, errors };
  const renamed = name !== secret.name;
  const moved = form.scope !== secret.scope || scopeId !== (secret.scopeId ?? "");
  if (!renamed && !moved) return { ok: false, errors: { name: "Change the name or the scope" } };
  return {
    ok: true,
    body: {
      ...(renamed ? { name } : {}),
      ...(moved ? { scope: form.scope, scopeId } : {}),
      etag: secret.etag ?? "",
    },
  };
}

/** The shortest bundle password the service takes (ExportSecretsRequest). */
export const BUNDLE_PASSWORD_MIN = 12;

/** What stops an export before it is sent: the password's length and its repetition. */
export function exportErrors(password: string, repeated: string): Record<string, string> {
  if (password.length < BUNDLE_PASSWORD_MIN) return { password: `At least ${BUNDLE_PASSWORD_MIN} characters` };
  if (password !== repeated) return { repeated: "The passwords differ" };
  return {};
}

/** An exported bundle as the file to save: the base64 the answer carries, which is what
 * Import's "Exported bundle" reads back, named by when it was made. */
export function bundleFile(bundle: string, exportTime: string | undefined): { name: string; text: string } {
  const stamp = (exportTime ?? new Date().toISOString()).replace(/\.\d+Z$/, "Z").replace(/[:]/g, "-");
  return { name: `secrets-${stamp}.bundle`, text: `${bundle}\n` };
}

/** Versions whose data key a key other than the primary wraps: what a rewrap moves. int64
 * counts arrive as strings. */
export function versionsOffPrimary(keys: KeyUsage[]): number {
  return keys.filter((k) => !k.primary).reduce((sum, k) => sum + Number(k.versionCount ?? 0), 0);
}

/** What the list shows instead of a value. */
export const MASK = "••••••••";
