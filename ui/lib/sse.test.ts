import { describe, expect, it } from "vitest";
import { parseSse } from "./sse";

describe("SSE frames", () => {
  it("split into events across chunk boundaries, comments skipped", () => {
    const first = parseSse(': ping\n\nevent: message\ndata: {"delta":"Hel');
    expect(first.events).toEqual([]);
    const second = parseSse(`${first.rest}lo"}\n\nevent: message\nid: 7\ndata: {"done":true}\n\nevent: mes`);
    expect(second.events).toEqual([
      { event: "message", data: '{"delta":"Hello"}' },
      { event: "message", data: '{"done":true}', id: "7" },
    ]);
    expect(second.rest).toBe("event: mes");
  });

  it("keep error events and multi-line data, CRLF or not", () => {
    const { events } = parseSse('event: error\r\ndata: {"code":8,\r\ndata: "message":"quota"}\r\n\r\ndata: plain\n\n');
    expect(events).toEqual([
      { event: "error", data: '{"code":8,\n"message":"quota"}' },
      { event: "message", data: "plain" },
    ]);
  });
});

describe("a streamed completion", () => {
  it("folds deltas, then the final chunk's usage and attempts", async () => {
    const { fold } = await import("./ai");
    let answer = { text: "", done: false };
    for (const chunk of [
      { id: "c1", model: "m", provider: "p", delta: "Hello" },
      { delta: " there" },
      { done: true, finishReason: "stop", usage: { inputTokens: "11", outputTokens: "2", cost: "0.0001" }, attempts: [{ model: "m", provider: "p" }] },
    ]) {
      answer = fold(answer, chunk as never);
    }
    expect(answer).toMatchObject({ text: "Hello there", done: true, model: "m", provider: "p", finishReason: "stop" });
    expect(answer).toMatchObject({ usage: { cost: "0.0001" }, attempts: [{ model: "m" }] });
  });
});
