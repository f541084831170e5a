import { describe, expect, it } from "vitest";
import { byFolder, deletionBlocker, folderOf, foldersOf, formatVariable, overrideOf, parseVariable, sideBySide } from "./prompts";

describe("folders", () => {
  it("are what precedes the last slash of a name", () => {
    expect(folderOf("review")).toBe("");
    expect(folderOf("team/review")).toBe("team");
    expect(folderOf("team/a/b")).toBe("team/a");
  });

  it("group prompts with the top level first and every parent listed", () => {
    const groups = byFolder([{ name: "team/z" }, { name: "b" }, { name: "team/a" }, { name: "a" }, { name: "ops/x" }]);
    expect(groups.map((g) => g.folder)).toEqual(["", "ops", "team"]);
    expect(groups[0]?.prompts.map((p) => p.name)).toEqual(["a", "b"]);
    expect(groups[2]?.prompts.map((p) => p.name)).toEqual(["team/a", "team/z"]);
    expect(foldersOf(["team/a/b", "ops/x", "top"])).toEqual(["ops", "team", "team/a"]);
  });
});

describe("variables", () => {
  it("parse to the JSON value of their type, or say why not", () => {
    expect(parseVariable("VARIABLE_TYPE_STRING", "hi")).toEqual({ ok: true, value: "hi" });
    expect(parseVariable("VARIABLE_TYPE_STRING", "")).toEqual({ ok: true, value: undefined });
    expect(parseVariable("VARIABLE_TYPE_INTEGER", "42")).toEqual({ ok: true, value: 42 });
    expect(parseVariable("VARIABLE_TYPE_INTEGER", "4.2").ok).toBe(false);
    expect(parseVariable("VARIABLE_TYPE_NUMBER", "4.2")).toEqual({ ok: true, value: 4.2 });
    expect(parseVariable("VARIABLE_TYPE_NUMBER", "x").ok).toBe(false);
    expect(parseVariable("VARIABLE_TYPE_BOOLEAN", true)).toEqual({ ok: true, value: true });
    expect(parseVariable("VARIABLE_TYPE_LIST", "[1, 2]")).toEqual({ ok: true, value: [1, 2] });
    expect(parseVariable("VARIABLE_TYPE_LIST", "{}")).toEqual({ ok: false, error: "A JSON array" });
    expect(parseVariable("VARIABLE_TYPE_OBJECT", "[]")).toEqual({ ok: false, error: "A JSON object" });
    expect(parseVariable("VARIABLE_TYPE_OBJECT", "{")).toEqual({ ok: false, error: "Not valid JSON" });
  });

  it("format back to what parses to the same value", () => {
    for (const [type, value] of [
      ["VARIABLE_TYPE_STRING", "a b"],
      ["VARIABLE_TYPE_INTEGER", 7],
      ["VARIABLE_TYPE_LIST", ["x", 1]],
      ["VARIABLE_TYPE_OBJECT", { a: { b: 1 } }],
    ] as const) {
      expect(parseVariable(type, formatVariable(type, value))).toEqual({ ok: true, value });
    }
  });
});

describe("side-by-side diff", () => {
  const unified = [
    "--- v1",
    "+++ v2",
    "@@ -1,4 +1,4 @@",
    " Review this code:",
    "-{{ code }}",
    "-Be brief.",
    "+{{ code }} in {{ language }}",
    " ---",
    "--- a removed line starting with dashes",
    "@@ -10,2 +10,3 @@",
    " ten",
    "+new",
    " eleven",
    "",
  ].join("\n");

  it("faces removed lines with the added lines after them, numbering each side", () => {
    const rows = sideBySide(unified);
    expect(rows[0]).toEqual({ kind: "hunk", header: "@@ -1,4 +1,4 @@" });
    expect(rows[1]).toEqual({ kind: "same", left: { number: 1, text: "Review this code:" }, right: { number: 1, text: "Review this code:" } });
    expect(rows[2]).toEqual({
      kind: "changed",
      left: { number: 2, text: "{{ code }}" },
      right: { number: 2, text: "{{ code }} in {{ language }}" },
    });
    expect(rows[3]).toEqual({ kind: "removed", left: { number: 3, text: "Be brief." }, right: undefined });
    expect(rows[4]).toEqual({ kind: "same", left: { number: 4, text: "---" }, right: { number: 3, text: "---" } });
    expect(rows[5]).toEqual({ kind: "removed", left: { number: 5, text: "-- a removed line starting with dashes" }, right: undefined });
    expect(rows[6]).toEqual({ kind: "hunk", header: "@@ -10,2 +10,3 @@" });
    expect(rows[8]).toEqual({ kind: "added", left: undefined, right: { number: 11, text: "new" } });
    expect(rows[9]).toEqual({ kind: "same", left: { number: 11, text: "eleven" }, right: { number: 12, text: "eleven" } });
    expect(rows).toHaveLength(10);
  });

  it("of equal contents is empty", () => {
    expect(sideBySide("")).toEqual([]);
  });
});

describe("template variables", () => {
  it("are the names read, without loop names and builtins", async () => {
    const { templateVariables } = await import("./prompts");
    expect(templateVariables("Review {{ code }} in {{language|upper}}{% if strict %}!{% endif %}")).toEqual([
      "code",
      "language",
      "strict",
    ]);
    expect(templateVariables("{% for f in files %}{{ f }} {{ loop.index }}{% endfor %}")).toEqual(["files"]);
    expect(templateVariables("plain")).toEqual([]);
  });
});

describe("deleting a version", () => {
  const prompt = {
    id: "p1",
    name: "team/review",
    labels: [
      { name: "latest", version: 3 },
      { name: "production", version: 2 },
      { name: "staging", version: 2 },
    ],
  };
  const versions = [{ version: 3 }, { version: 2 }, { version: 1 }];

  it("is refused for a version a label other than latest points at", () => {
    expect(deletionBlocker(prompt, versions, 2)).toBe("The labels production, staging point at it; move them first.");
    expect(deletionBlocker({ ...prompt, labels: [{ name: "production", version: 1 }] }, versions, 1)).toBe(
      "The label production points at it; move it first.",
    );
  });

  it("is refused for the only version, allowed for one only latest names", () => {
    expect(deletionBlocker(prompt, [{ version: 1 }], 1)).toBe("It is the only version; delete the prompt instead.");
    expect(deletionBlocker(prompt, versions, 3)).toBeNull();
    expect(deletionBlocker(prompt, versions, 1)).toBeNull();
  });
});

describe("overrides", () => {
  it("are the organization's prompts of a shared prompt's name", () => {
    const shared = { id: "s1", name: "coder/code-review", shared: true };
    const own = [
      { id: "o1", name: "coder/code-review-2", overridesShared: false },
      { id: "o2", name: "coder/code-review", overridesShared: true },
    ];
    expect(overrideOf(shared, own)?.id).toBe("o2");
    expect(overrideOf(shared, own.slice(0, 1))).toBeUndefined();
  });
});
