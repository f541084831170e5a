import { describe, expect, it } from "vitest";
import { highlightSpans, highlightWords, utf16Offset } from "./highlight";

const marked = (segments: { text: string; mark: boolean }[]) => segments.filter((s) => s.mark).map((s) => s.text);

describe("highlighted words", () => {
  it("mark whole words only, case-insensitively, and keep the text whole", () => {
    const segments = highlightWords("Deploy the deployment; DEPLOY again.", ["deploy"]);
    expect(marked(segments)).toEqual(["Deploy", "DEPLOY"]);
    expect(segments.map((s) => s.text).join("")).toBe("Deploy the deployment; DEPLOY again.");
  });

  it("leave the text plain without words", () => {
    expect(highlightWords("abc", [])).toEqual([{ text: "abc", mark: false }]);
  });
});

describe("highlighted spans", () => {
  it("mark the spans, merging overlaps and clamping ends", () => {
    const segments = highlightSpans("hello wide world", [
      { start: 6, end: 10 },
      { start: 0, end: 5 },
      { start: 8, end: 99 },
    ]);
    expect(marked(segments)).toEqual(["hello", "wide", " world"]);
    expect(segments.map((s) => s.text).join("")).toBe("hello wide world");
  });

  it("convert the service's code-point offsets to UTF-16", () => {
    const text = "🙂 café 🙂 bar";
    expect(utf16Offset(text, 2)).toBe(3);
    const start = utf16Offset(text, 9);
    expect(text.slice(start, utf16Offset(text, 12))).toBe("bar");
  });
});
