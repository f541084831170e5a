import { describe, expect, it } from "vitest";
import { buildValue, bundleFile, exportErrors, formatEnv, moveRequest, needsScopeId, parseEnv, scopeName, showValue, toBase64, versionsOffPrimary } from "./secrets";

describe("secret values", () => {
  it("are built as the member of their type, optional fields left out", () => {
    expect(buildValue("SECRET_TYPE_API_KEY", { key: "sk-123" })).toEqual({ ok: true, value: { apiKey: { key: "sk-123" } } });
    expect(buildValue("SECRET_TYPE_OAUTH2_TOKEN", { accessToken: "a", refreshToken: "", scopes: "read\n write \n" })).toEqual({
      ok: true,
      value: { oauth2Token: { accessToken: "a", scopes: ["read", "write"] } },
    });
    expect(buildValue("SECRET_TYPE_JSON_CREDENTIAL", { document: '{"type": "service_account"}' })).toEqual({
      ok: true,
      value: { jsonCredential: { document: { type: "service_account" } } },
    });
  });

  it("say which field stops them", () => {
    expect(buildValue("SECRET_TYPE_USERNAME_PASSWORD", { username: "u" })).toEqual({ ok: false, errors: { password: "Password is required" } });
    expect(buildValue("SECRET_TYPE_JSON_CREDENTIAL", { document: "[1]" })).toEqual({ ok: false, errors: { document: "A JSON object" } });
    expect(buildValue("SECRET_TYPE_ENV_VARIABLE_SET", { variables: "A=1\nnot a line" })).toEqual({
      ok: false,
      errors: { variables: "Line 2 is not NAME=value" },
    });
  });

  it("show back in field order, as they were entered", () => {
    expect(showValue("SECRET_TYPE_USERNAME_PASSWORD", { usernamePassword: { password: "p", username: "u" } })).toEqual([
      { label: "Username", text: "u" },
      { label: "Password", text: "p" },
    ]);
    expect(showValue("SECRET_TYPE_API_KEY", undefined)).toEqual([]);
  });
});

describe(".env text", () => {
  it("parses comments, export prefixes and quotes, and formats back", () => {
    const parsed = parseEnv('# db\nexport HOST=db.local\nPASSWORD="a b#c"\n\nEMPTY=\n');
    expect(parsed).toEqual({ ok: true, variables: { HOST: "db.local", PASSWORD: "a b#c", EMPTY: "" } });
    if (parsed.ok) expect(parseEnv(formatEnv(parsed.variables))).toEqual(parsed);
    expect(parseEnv("# only a comment")).toEqual({ ok: false, error: "At least one NAME=value line" });
  });

  it("goes to the import as base64 of its UTF-8", () => {
    expect(toBase64("A=é")).toBe("QT3DqQ==");
  });
});

describe("moving a secret", () => {
  const secret = { id: "s1", name: "DB_URL", scope: "SECRET_SCOPE_ORGANIZATION" as const, scopeId: "", etag: "e1" };

  it("sends only what changes, with the etag the page read", () => {
    expect(moveRequest(secret, { name: " DB_URL_OLD ", scope: "SECRET_SCOPE_ORGANIZATION", scopeId: "ignored" })).toEqual({
      ok: true,
      body: { name: "DB_URL_OLD", etag: "e1" },
    });
    expect(moveRequest(secret, { name: "DB_URL", scope: "SECRET_SCOPE_PROJECT", scopeId: " p-7 " })).toEqual({
      ok: true,
      body: { scope: "SECRET_SCOPE_PROJECT", scopeId: "p-7", etag: "e1" },
    });
    expect(moveRequest({ ...secret, scope: "SECRET_SCOPE_TEAM", scopeId: "t-1" }, { name: "DB_URL", scope: "SECRET_SCOPE_ORGANIZATION", scopeId: "t-1" })).toEqual({
      ok: true,
      body: { scope: "SECRET_SCOPE_ORGANIZATION", scopeId: "", etag: "e1" },
    });
  });

  it("says what stops it", () => {
    expect(moveRequest(secret, { name: "1st", scope: "SECRET_SCOPE_ORGANIZATION", scopeId: "" })).toEqual({
      ok: false,
      errors: { name: "A letter or _ first, then letters, digits, _ . -" },
    });
    expect(moveRequest(secret, { name: "DB_URL", scope: "SECRET_SCOPE_TEAM", scopeId: "  " })).toEqual({ ok: false, errors: { scopeId: "Which one" } });
    // A USER secret without an id is the caller's own.
    expect(moveRequest(secret, { name: "DB_URL", scope: "SECRET_SCOPE_USER", scopeId: "" })).toMatchObject({ ok: true });
    expect(moveRequest(secret, { name: "DB_URL", scope: "SECRET_SCOPE_ORGANIZATION", scopeId: "" })).toEqual({
      ok: false,
      errors: { name: "Change the name or the scope" },
    });
  });
});

describe("export bundles", () => {
  it("need a long enough password, given twice", () => {
    expect(exportErrors("short", "short")).toEqual({ password: "At least 12 characters" });
    expect(exportErrors("correct horse battery", "correct horse batter")).toEqual({ repeated: "The passwords differ" });
    expect(exportErrors("correct horse battery", "correct horse battery")).toEqual({});
  });

  it("are saved as the base64 Import reads back, named by their time", () => {
    expect(bundleFile("eyJmb3JtYXQiOjF9", "2026-12-04T21:05:09.123Z")).toEqual({
      name: "secrets-2026-12-04T21-05-09Z.bundle",
      text: "eyJmb3JtYXQiOjF9\n",
    });
  });
});

describe("scopes", () => {
  it("have short names, and name an id only for teams and projects", () => {
    expect(scopeName("SECRET_SCOPE_USER")).toBe("User");
    expect(scopeName(undefined)).toBe("—");
    expect(needsScopeId("SECRET_SCOPE_PROJECT")).toBe(true);
    expect(needsScopeId("SECRET_SCOPE_USER")).toBe(false);
  });
});

describe("key usage", () => {
  it("counts the versions an older key still wraps (int64 counts are strings)", () => {
    expect(versionsOffPrimary([{ keyId: "new", primary: true, versionCount: "4" }])).toBe(0);
    expect(
      versionsOffPrimary([
        { keyId: "new", primary: true, versionCount: "4" },
        { keyId: "old", versionCount: "3" },
        { keyId: "older", versionCount: "2" },
      ]),
    ).toBe(5);
  });
});
