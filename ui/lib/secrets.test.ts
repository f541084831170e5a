import { describe, expect, it } from "vitest";
import { buildValue, formatEnv, parseEnv, showValue, toBase64 } from "./secrets";

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
