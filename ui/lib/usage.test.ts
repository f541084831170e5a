import { describe, expect, it } from "vitest";
import { addDecimals, bars, formatDecimal, formatMoney, fraction, lastDays, niceMax } from "./usage";

describe("decimals", () => {
  it("add exactly, without floating point", () => {
    expect(addDecimals("0.1", "0.2")).toBe("0.3");
    expect(addDecimals("999999999999999999.999999999999", "0.000000000001")).toBe("1000000000000000000");
    expect(addDecimals("12", "0.000000075")).toBe("12.000000075");
  });

  it("print with separators and a cut fraction", () => {
    expect(formatDecimal("1234567.5")).toBe("1,234,567.5");
    expect(formatDecimal("0.000000075")).toBe("0");
    expect(formatDecimal("0.000000075", 12)).toBe("0.000000075");
    expect(formatDecimal("12.3400")).toBe("12.34");
    expect(formatDecimal(undefined)).toBe("0");
    expect(formatMoney("3")).toBe("$3.00");
    expect(formatMoney("0.000366")).toBe("$0.000366");
    expect(formatMoney("1500.5")).toBe("$1,500.50");
  });

  it("give a bar's share of its limit, capped", () => {
    expect(fraction("50", "200")).toBe(0.25);
    expect(fraction("300", "200")).toBe(1);
    expect(fraction("5", "0")).toBe(0);
  });
});

describe("chart series", () => {
  const rows = [
    { meter: "ai.completion.tokens", windowStart: "2026-12-01T00:00:00Z", dimensions: { model: "a" }, value: "100" },
    { meter: "ai.completion.tokens", windowStart: "2026-12-01T00:00:00Z", dimensions: { model: "b" }, value: "0.5" },
    { meter: "ai.completion.tokens", windowStart: "2026-12-03T00:00:00Z", dimensions: { model: "b" }, value: "300" },
    { meter: "ai.completion.requests", windowStart: "2026-12-03T00:00:00Z", dimensions: { model: "b" }, value: "9" },
  ];

  it("by day have every day of the range, in order, with exact totals", () => {
    const series = bars(rows, "ai.completion.tokens", "window", { start: new Date("2026-12-01T00:00:00Z"), days: 3 });
    expect(series.map((b) => [b.key, b.value, b.text])).toEqual([
      ["2026-12-01", 100.5, "100.5"],
      ["2026-12-02", 0, "0"],
      ["2026-12-03", 300, "300"],
    ]);
  });

  it("by a dimension are largest first", () => {
    const series = bars(rows, "ai.completion.tokens", "model");
    expect(series.map((b) => [b.label, b.text])).toEqual([
      ["b", "300.5"],
      ["a", "100"],
    ]);
  });

  it("have a round axis and whole-day ranges", () => {
    expect(niceMax(0)).toBe(1);
    expect(niceMax(7)).toBe(10);
    expect(niceMax(130)).toBe(200);
    expect(niceMax(401)).toBe(500);
    const { start, end } = lastDays(7, new Date("2026-12-03T10:45:00Z"));
    expect(start.toISOString()).toBe("2026-11-27T00:00:00.000Z");
    expect(end.toISOString()).toBe("2026-12-04T00:00:00.000Z");
  });
});
