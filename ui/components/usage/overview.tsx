"use client";
import { useQuery } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { api, unwrap } from "@/lib/api";
import { bars, formatMoney, lastDays, type Meter, type Quota, type Budget, type UsageRow } from "@/lib/usage";
import { ErrorNotice } from "../errors";
import { Section } from "../identity/common";
import { Field, Select } from "../ui/field";
import { BarChart } from "./bar-chart";
import { AlertList, LimitBar, USAGE_TABS, useMemberNames } from "./common";

const RANGES = [7, 30, 90];

function useMeters() {
  return useQuery({
    queryKey: ["usage-meters"],
    staleTime: 5 * 60_000,
    queryFn: () => unwrap(api().GET("/api/v1/usage/meters")).then((r) => (r.meters ?? []) as Meter[]),
  });
}

function useUsage(meter: string, days: number, groupBy: string[], window: "WINDOW_DAY" | "WINDOW_UNSPECIFIED") {
  const { start, end } = lastDays(days);
  return useQuery({
    queryKey: ["usage", meter, days, groupBy.join(","), window, start.toISOString()],
    enabled: meter !== "",
    queryFn: () =>
      unwrap(
        api().GET("/api/v1/usage/aggregates", {
          params: {
            query: { startTime: start.toISOString(), endTime: end.toISOString(), window, meters: [meter], groupBy },
          },
        }),
      ),
  });
}

/** Usage of one meter over the last days: by day, by model, by user; the limits in force and
 * the newest alerts. */
export function UsageOverview() {
  const meters = useMeters();
  const [chosen, setChosen] = useState("");
  const [days, setDays] = useState(30);
  const names = useMemberNames();
  const all = useMemo(() => meters.data ?? [], [meters.data]);
  const meter = chosen || (all.find((m) => m.id === "ai.completion.tokens")?.id ?? all[0]?.id ?? "");
  const unit = all.find((m) => m.id === meter)?.unit ?? "";
  const dimensions = all.find((m) => m.id === meter)?.dimensions ?? [];
  const byDay = useUsage(meter, days, [], "WINDOW_DAY");
  const byModel = useUsage(meter, days, ["model"], "WINDOW_UNSPECIFIED");
  const byUser = useUsage(meter, days, ["user"], "WINDOW_UNSPECIFIED");
  const quotas = useQuery({ queryKey: ["usage-quotas"], queryFn: () => unwrap(api().GET("/api/v1/usage/quotas", { params: { query: { pageSize: 100 } } })) });
  const budgets = useQuery({ queryKey: ["usage-budgets"], queryFn: () => unwrap(api().GET("/api/v1/usage/budgets", { params: { query: { pageSize: 100 } } })) });
  const { start } = lastDays(days);
  const rows = (r: { data?: { rows?: UsageRow[] } }) => r.data?.rows ?? [];
  const userBars = bars(rows(byUser), meter, "user").map((b) => ({ ...b, label: names.get(b.key) ?? (b.key ? b.key.slice(-8) : "(none)") }));
  return (
    <Section title="Usage" tabs={USAGE_TABS}>
      <div className="flex items-end gap-3">
        <div className="w-72">
          <Field id="usage-meter" label="Meter">
            <Select id="usage-meter" value={meter} onChange={(e) => setChosen(e.target.value)}>
              {all.map((m) => (
                <option key={m.id} value={m.id}>
                  {m.id} ({m.unit})
                </option>
              ))}
            </Select>
          </Field>
        </div>
        <div className="w-40">
          <Field id="usage-range" label="Range">
            <Select id="usage-range" value={days} onChange={(e) => setDays(Number(e.target.value))}>
              {RANGES.map((d) => (
                <option key={d} value={d}>
                  Last {d} days
                </option>
              ))}
            </Select>
          </Field>
        </div>
        {byDay.data ? (
          <p className="pb-2 text-sm">
            Charged for this meter: <span className="font-medium" data-testid="usage-total">{formatMoney(byDay.data.totalAmount)}</span>
          </p>
        ) : null}
      </div>
      <ErrorNotice error={meters.error ?? byDay.error ?? byModel.error ?? byUser.error} />
      <BarChart title="By day" unit={unit} bars={bars(rows(byDay), meter, "window", { start, days })} />
      <div className="grid gap-6 xl:grid-cols-2">
        {dimensions.includes("model") ? <BarChart title="By model" unit={unit} bars={bars(rows(byModel), meter, "model")} horizontalLabels /> : null}
        <BarChart title="By user" unit={unit} bars={userBars} horizontalLabels />
      </div>
      <section aria-label="Limits this period" className="flex flex-col gap-3">
        <h2 className="text-lg font-semibold">Limits this period</h2>
        <ErrorNotice error={quotas.error ?? budgets.error} />
        <ul className="grid gap-3 md:grid-cols-2">
          {((quotas.data?.quotas ?? []) as Quota[]).map((q) => (
            <li key={q.id} className="flex flex-col gap-1 rounded-md border border-border p-3">
              <p className="text-sm font-medium">
                Quota {q.name} <span className="font-normal text-muted-foreground">({q.meter})</span>
              </p>
              <LimitBar status={q.status} />
            </li>
          ))}
          {((budgets.data?.budgets ?? []) as Budget[]).map((b) => (
            <li key={b.id} className="flex flex-col gap-1 rounded-md border border-border p-3">
              <p className="text-sm font-medium">Budget {b.name}</p>
              <LimitBar status={b.status} money />
            </li>
          ))}
        </ul>
        {quotas.isSuccess && budgets.isSuccess && !quotas.data.quotas?.length && !budgets.data.budgets?.length ? (
          <p className="text-sm text-muted-foreground">No quotas or budgets.</p>
        ) : null}
      </section>
      <section aria-label="Recent alerts" className="flex flex-col gap-3">
        <h2 className="text-lg font-semibold">Recent alerts</h2>
        <AlertList limit={5} />
      </section>
    </Section>
  );
}
