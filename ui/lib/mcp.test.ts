import { describe, expect, it } from "vitest";
import { contentText, schemaFields, toArguments } from "./mcp";

const schema = {
  type: "object",
  required: ["query"],
  properties: {
    query: { type: "string", description: "What to find" },
    limit: { type: "integer", default: 10 },
    threshold: { type: ["number", "null"] },
    mode: { type: "string", enum: ["fast", "exact"] },
    verbose: { type: "boolean" },
    tags: { type: "array", items: { type: "string" }, default: ["a", "b"] },
    ids: { type: "array", items: { type: "integer" } },
    filter: { type: "object", properties: { x: { type: "string" } } },
  },
};

describe("the try-the-tool form", () => {
  it("has a field per property, typed by the schema, required first, defaults filled in", () => {
    const fields = schemaFields(schema);
    expect(fields.map((f) => [f.name, f.kind])).toEqual([
      ["query", "string"],
      ["filter", "json"],
      ["ids", "list"],
      ["limit", "integer"],
      ["mode", "enum"],
      ["tags", "list"],
      ["threshold", "number"],
      ["verbose", "boolean"],
    ]);
    expect(fields.find((f) => f.name === "limit")?.initial).toBe("10");
    expect(fields.find((f) => f.name === "tags")?.initial).toBe("a\nb");
    expect(fields.find((f) => f.name === "mode")?.options).toEqual(["fast", "exact"]);
    expect(schemaFields(undefined)).toEqual([]);
  });

  it("turns the values into typed arguments, leaving empty optional fields out", () => {
    const fields = schemaFields(schema);
    expect(
      toArguments(fields, { query: "deploy", limit: "5", threshold: "0.5", mode: "fast", verbose: "false", tags: "x\n\n y ", ids: "1\n2", filter: '{"x": "y"}' }),
    ).toEqual({ ok: true, value: { query: "deploy", limit: 5, threshold: 0.5, mode: "fast", verbose: false, tags: ["x", "y"], ids: [1, 2], filter: { x: "y" } } });
    expect(toArguments(fields, { query: "q", limit: "" })).toEqual({ ok: true, value: { query: "q" } });
  });

  it("names each field whose value is missing or of the wrong type", () => {
    const result = toArguments(schemaFields(schema), { query: " ", limit: "1.5", threshold: "x", ids: "1\nz", filter: "{" });
    expect(result).toEqual({
      ok: false,
      errors: { query: "Required", limit: "Enter a whole number", threshold: "Enter a number", ids: "Each line: enter a number", filter: "Enter JSON" },
    });
  });

  it("shows the result's text blocks and names the others", () => {
    expect(contentText([{ type: "text", text: "one" }, { type: "image" }, { type: "text", text: "two" }])).toBe("one\n[image]\ntwo");
  });
});
