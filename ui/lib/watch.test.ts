import { describe, expect, it } from "vitest";
import { backoff } from "./watch";

describe("reconnect backoff", () => {
  it("doubles from half a second to at most 30 s, within ±20 %", () => {
    expect(backoff(1, 0.5)).toBe(500);
    expect(backoff(2, 0.5)).toBe(1000);
    expect(backoff(4, 0.5)).toBe(4000);
    expect(backoff(20, 0.5)).toBe(30000);
    expect(backoff(1, 0)).toBe(400);
    expect(backoff(1, 1)).toBe(600);
  });
});
