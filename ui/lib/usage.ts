/** Usage Tracking in the browser: types as answers carry them, exact decimals shown without
 * floating point, QueryUsage rows as chart series, and the labels of scopes, periods and
 * states. */
import type { Schemas } from "./api";

type Named<T> = Exclude<T, number>;

export type Scope = Named<Schemas["coder.usage.v1.Scope"]>;
export type Period = Named<Schemas["coder.usage.v1.Period"]>;
export type Enforcement = Named<Schemas["coder.usage.v1.Enforcement"]>;
export type LimitState = Named<Schemas["coder.usage.v1.LimitState"]>;
export type AlertLevel = Named<Schemas["coder.usage.v1.AlertLevel"]>;
export type LimitKind = Named<Schemas["coder.usage.v1.LimitKind"]>;
export type PriceUnit = Named<Schemas["coder.usage.v1.PriceUnit"]>;
export type Aggregation = Named<Schemas["coder.usage.v1.Aggregation"]>;
export type Window = Named<Schemas["coder.usage.v1.Window"]>;
export type Meter = Omit<Schemas["coder.usage.v1.Meter"], "aggregation"> & { aggregation?: Aggregation };
export type LimitStatus = Omit<Schemas["coder.usage.v1.LimitStatus"], "kind" | "state" | "enforcement"> & {
  kind?: LimitKind;
  state?: LimitState;
  enforcement?: Enforcement;
};
export type Quota = Omit<Schemas["coder.usage.v1.Quota"], "scope" | "period" | "enforcement" | "status"> & {
  scope?: Scope;
  period?: Period;
  enforcement?: Enforcement;
  status?: LimitStatus;
};
export type Budget = Omit<Schemas["coder.usage.v1.Budget"], "scope" | "period" | "enforcement" | "status"> & {
  scope?: Scope;
  period?: Period;
  enforcement?: Enforcement;
  status?: LimitStatus;
};
export type UsageAlert = Omit<Schemas["coder.usage.v1.UsageAlert"], "kind" | "level" | "scope"> & {
  kind?: LimitKind;
  level?: AlertLevel;
  scope?: Scope;
};
export type Price = Omit<Schemas["coder.usage.v1.Price"], "unit"> & { unit?: PriceUnit };
export type UsageRow = Schemas["coder.usage.v1.UsageRow"];

export const SCOPES: { value: Scope; label: string }[] = [
  { value: "SCOPE_ORGANIZATION", label: "Organization" },
  { value: "SCOPE_PROJECT", label: "Project" },
  { value: "SCOPE_USER", label: "User" },
];
export const PERIODS: { value: Period; label: string }[] = [
  { value: "PERIOD_HOUR", label: "Hour" },
  { value: "PERIOD_DAY", label: "Day" },
  { value: "PERIOD_MONTH", label: "Month" },
];
export const ENFORCEMENTS: { value: Enforcement; label: string }[] = [
  { value: "ENFORCEMENT_SOFT", label: "Soft (alerts only)" },
  { value: "ENFORCEMENT_HARD", label: "Hard (refuse at the limit)" },
];
export const PRICE_UNITS: { value: PriceUnit; label: string }[] = [
  { value: "PRICE_UNIT_PER_UNIT", label: "per unit" },
  { value: "PRICE_UNIT_PER_THOUSAND", label: "per 1,000" },
  { value: "PRICE_UNIT_PER_MILLION", label: "per 1,000,000" },
  { value: "PRICE_UNIT_PER_MINUTE", label: "per minute" },
];

export const STATE_LABELS: Record<LimitState, string> = {
  LIMIT_STATE_UNSPECIFIED: "—",
  LIMIT_STATE_OK: "OK",
  LIMIT_STATE_WARNING: "Warning",
  LIMIT_STATE_CRITICAL: "Critical",
  LIMIT_STATE_EXCEEDED: "Exceeded",
};
export const LEVEL_LABELS: Record<AlertLevel, string> = {
  ALERT_LEVEL_UNSPECIFIED: "—",
  ALERT_LEVEL_WARNING: "Warning",
  ALERT_LEVEL_CRITICAL: "Critical",
  ALERT_LEVEL_EXCEEDED: "Exceeded",
  ALERT_LEVEL_FORECAST_EXCEEDED: "Forecast exceeded",
};

export function labelOf<T extends string>(options: { value: T; label: string }[], value: T | undefined): string {
  return options.find((o) => o.value === value)?.label ?? "—";
}

/** The wire's decimal pattern (digits, optionally a point and up to 12 fractional digits). */
export const DECIMAL = /^[0-9]{1,18}(\.[0-9]{1,12})?$/;

/** An exact decimal string with thousands separators, its fraction cut (not rounded through a
 * float) to `digits` places, trailing zeros dropped. */
export function formatDecimal(value: string | undefined, digits = 6): string {
  if (!value) return "0";
  const negative = value.startsWith("-");
  const [whole = "0", fraction = ""] = (negative ? value.slice(1) : value).split(".");
  const grouped = whole.replace(/^0+(?=\d)/, "").replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const cut = fraction.slice(0, digits).replace(/0+$/, "");
  return `${negative ? "-" : ""}${grouped}${cut ? `.${cut}` : ""}`;
}

/** Money in USD: two decimals at least, more when the amount is below a cent. */
export function formatMoney(value: string | undefined): string {
  const text = formatDecimal(value, 6);
  const [whole, fraction = ""] = text.split(".");
  return `$${whole}.${fraction.padEnd(2, "0")}`;
}

const SCALE = 12;

/** The exact sum of two non-negative decimal strings (BigInt over 12 fractional digits). */
export function addDecimals(a: string, b: string): string {
  const units = (text: string) => {
    const [whole = "0", fraction = ""] = text.split(".");
    return BigInt(whole || "0") * 10n ** BigInt(SCALE) + BigInt((fraction + "0".repeat(SCALE)).slice(0, SCALE) || "0");
  };
  const sum = (units(a) + units(b)).toString().padStart(SCALE + 1, "0");
  const whole = sum.slice(0, -SCALE);
  const fraction = sum.slice(-SCALE).replace(/0+$/, "");
  return fraction ? `${whole}.${fraction}` : whole;
}

/** How far `used` is into `limit`, 0 to 1 (a float is fine for a bar's width). */
export function fraction(used: string | undefined, limit: string | undefined): number {
  const l = Number(limit ?? 0);
  if (!(l > 0)) return 0;
  return Math.min(1, Math.max(0, Number(used ?? 0) / l));
}

export type Bar = { key: string; label: string; value: number; text: string };

/** QueryUsage rows of one meter as bars: one per window start (`by: "window"`, days in order,
 * each day of the range present even without usage) or per group value (`by` a dimension,
 * largest first). */
export function bars(
  rows: UsageRow[],
  meter: string,
  by: "window" | string,
  range?: { start: Date; days: number },
): Bar[] {
  const mine = rows.filter((row) => row.meter === meter);
  const sums = new Map<string, number>();
  const texts = new Map<string, string>();
  for (const row of mine) {
    const key = by === "window" ? (row.windowStart ?? "").slice(0, 10) : (row.dimensions?.[by] ?? "");
    sums.set(key, (sums.get(key) ?? 0) + Number(row.value ?? 0));
    texts.set(key, addDecimals(texts.get(key) ?? "0", row.value ?? "0"));
  }
  if (by === "window") {
    const keys = new Set(sums.keys());
    if (range) {
      for (let i = 0; i < range.days; i += 1) {
        keys.add(new Date(range.start.getTime() + i * 86_400_000).toISOString().slice(0, 10));
      }
    }
    return [...keys].sort().map((key) => ({
      key,
      label: key.slice(5),
      value: sums.get(key) ?? 0,
      text: formatDecimal(texts.get(key) ?? "0"),
    }));
  }
  return [...sums.entries()]
    .sort(([, a], [, b]) => b - a)
    .map(([key, value]) => ({ key, label: key || "(none)", value, text: formatDecimal(texts.get(key)) }));
}

/** A round upper bound for a chart's axis: 1, 2 or 5 times a power of ten, at least `max`. */
export function niceMax(max: number): number {
  if (!(max > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(max));
  for (const step of [1, 2, 5, 10]) if (step * power >= max) return step * power;
  return 10 * power;
}

/** The start of the UTC day `days - 1` days before today, and the end of today: a range of
 * `days` whole days for QueryUsage. */
export function lastDays(days: number, now = new Date()): { start: Date; end: Date } {
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  return { start: new Date(today - (days - 1) * 86_400_000), end: new Date(today + 86_400_000) };
}
