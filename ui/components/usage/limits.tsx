"use client";
import { zodResolver } from "@hookform/resolvers/zod";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useForm, useWatch } from "react-hook-form";
import { z } from "zod";
import { api, unwrap } from "@/lib/api";
import {
  type Budget,
  DECIMAL,
  ENFORCEMENTS,
  formatDecimal,
  formatMoney,
  labelOf,
  type Meter,
  PERIODS,
  type Quota,
  SCOPES,
} from "@/lib/usage";
import { ErrorNotice, toast, violationOf } from "../errors";
import { isAdmin, Section } from "../identity/common";
import { useSession } from "../providers";
import { Button } from "../ui/button";
import { Field, Input, Select } from "../ui/field";
import { LimitBar, USAGE_TABS } from "./common";

const limitSchema = z
  .object({
    name: z.string().min(1, "Name it").max(100),
    meter: z.string(),
    scope: z.enum(["SCOPE_ORGANIZATION", "SCOPE_PROJECT", "SCOPE_USER"]),
    scopeId: z.string().max(128).regex(/^[0-9A-Za-z_.@:-]*$/, "An id"),
    period: z.enum(["PERIOD_HOUR", "PERIOD_DAY", "PERIOD_MONTH"]),
    limit: z.string().regex(DECIMAL, "A decimal: digits, optionally a point and up to 12 more"),
    warningPercent: z.coerce.number<string>().int().min(0).max(100),
    criticalPercent: z.coerce.number<string>().int().min(0).max(100),
    enforcement: z.enum(["ENFORCEMENT_SOFT", "ENFORCEMENT_HARD"]),
  })
  .refine((v) => v.scope !== "SCOPE_ORGANIZATION" || v.scopeId === "", { path: ["scopeId"], message: "Empty for the organization" })
  .refine((v) => v.criticalPercent === 0 || v.criticalPercent >= v.warningPercent, { path: ["criticalPercent"], message: "Not below the warning" });
type LimitInput = z.input<typeof limitSchema>;
type LimitValues = z.output<typeof limitSchema>;

function CreateLimit({ kind, meters, onDone }: { kind: "quota" | "budget"; meters: Meter[]; onDone: () => void }) {
  const client = useQueryClient();
  const additive = meters.filter((m) => m.aggregation === "AGGREGATION_SUM" || m.aggregation === "AGGREGATION_COUNT");
  const form = useForm<LimitInput, unknown, LimitValues>({
    resolver: zodResolver(limitSchema),
    defaultValues: {
      name: "",
      meter: additive.find((m) => m.id === "ai.completion.tokens")?.id ?? additive[0]?.id ?? "",
      scope: "SCOPE_ORGANIZATION",
      scopeId: "",
      period: "PERIOD_MONTH",
      limit: "",
      warningPercent: "80",
      criticalPercent: "95",
      enforcement: "ENFORCEMENT_SOFT",
    },
  });
  const create = useMutation({
    mutationFn: (v: LimitValues) => {
      const common = {
        name: v.name,
        scope: v.scope,
        scopeId: v.scopeId,
        period: v.period,
        warningPercent: v.warningPercent,
        criticalPercent: v.criticalPercent,
        enforcement: v.enforcement,
      };
      return kind === "quota"
        ? unwrap(api().POST("/api/v1/usage/quotas", { body: { ...common, meter: v.meter, limit: v.limit } })).then(() => undefined)
        : unwrap(api().POST("/api/v1/usage/budgets", { body: { ...common, amount: v.limit } })).then(() => undefined);
    },
    onSuccess: () => {
      toast.info(`Created the ${kind}`);
      void client.invalidateQueries({ queryKey: [kind === "quota" ? "usage-quotas" : "usage-budgets"] });
      onDone();
    },
  });
  const { errors } = form.formState;
  const scope = useWatch({ control: form.control, name: "scope" });
  const id = (name: string) => `${kind}-${name}`;
  return (
    <form onSubmit={form.handleSubmit((v) => create.mutate(v))} className="grid grid-cols-3 gap-3 rounded-md border border-border p-3" noValidate aria-label={`New ${kind}`}>
      <Field id={id("name")} label="Name" error={errors.name?.message ?? violationOf(create.error, "name")}>
        <Input id={id("name")} {...form.register("name")} />
      </Field>
      {kind === "quota" ? (
        <Field id={id("meter")} label="Meter" error={violationOf(create.error, "meter")}>
          <Select id={id("meter")} {...form.register("meter")}>
            {additive.map((m) => (
              <option key={m.id} value={m.id}>
                {m.id} ({m.unit})
              </option>
            ))}
          </Select>
        </Field>
      ) : null}
      <Field id={id("limit")} label={kind === "quota" ? "Limit per period" : "Amount per period (USD)"} error={errors.limit?.message ?? violationOf(create.error, kind === "quota" ? "limit" : "amount")}>
        <Input id={id("limit")} inputMode="decimal" {...form.register("limit")} />
      </Field>
      <Field id={id("period")} label="Period">
        <Select id={id("period")} {...form.register("period")}>
          {PERIODS.map((p) => (
            <option key={p.value} value={p.value}>
              {p.label}
            </option>
          ))}
        </Select>
      </Field>
      <Field id={id("scope")} label="Scope">
        <Select id={id("scope")} {...form.register("scope")}>
          {SCOPES.map((s) => (
            <option key={s.value} value={s.value}>
              {s.label}
            </option>
          ))}
        </Select>
      </Field>
      {scope !== "SCOPE_ORGANIZATION" ? (
        <Field id={id("scope-id")} label={`${scope === "SCOPE_USER" ? "User" : "Project"} id`} hint="Empty: each one separately" error={errors.scopeId?.message ?? violationOf(create.error, "scope_id")}>
          <Input id={id("scope-id")} {...form.register("scopeId")} />
        </Field>
      ) : null}
      <Field id={id("warning")} label="Warning at %" error={errors.warningPercent?.message}>
        <Input id={id("warning")} inputMode="numeric" {...form.register("warningPercent")} />
      </Field>
      <Field id={id("critical")} label="Critical at %" error={errors.criticalPercent?.message ?? violationOf(create.error, "critical_percent")}>
        <Input id={id("critical")} inputMode="numeric" {...form.register("criticalPercent")} />
      </Field>
      <Field id={id("enforcement")} label="At the limit">
        <Select id={id("enforcement")} {...form.register("enforcement")}>
          {ENFORCEMENTS.map((e) => (
            <option key={e.value} value={e.value}>
              {e.label}
            </option>
          ))}
        </Select>
      </Field>
      <div className="col-span-3 flex flex-col gap-2">
        <ErrorNotice error={create.error} />
        <Button type="submit" className="self-start" disabled={create.isPending}>
          Create {kind}
        </Button>
      </div>
    </form>
  );
}

function EditLimit({ kind, item }: { kind: "quota" | "budget"; item: Quota | Budget }) {
  const client = useQueryClient();
  const current = "meter" in item ? ((item as Quota).limit ?? "") : ((item as Budget).amount ?? "");
  const [value, setValue] = useState(current);
  const [error, setError] = useState<string>();
  const save = useMutation({
    mutationFn: (): Promise<unknown> =>
      kind === "quota"
        ? unwrap(
            api().PATCH("/api/v1/usage/quotas/{quota_id}", {
              params: { path: { quota_id: item.id ?? "" }, query: { updateMask: "limit" } },
              body: { limit: value, etag: item.etag },
            }),
          )
        : unwrap(
            api().PATCH("/api/v1/usage/budgets/{budget_id}", {
              params: { path: { budget_id: item.id ?? "" }, query: { updateMask: "amount" } },
              body: { amount: value, etag: item.etag },
            }),
          ),
    onSuccess: () => {
      toast.info(`Saved ${item.name}`);
      void client.invalidateQueries({ queryKey: [kind === "quota" ? "usage-quotas" : "usage-budgets"] });
    },
  });
  const remove = useMutation({
    mutationFn: (): Promise<unknown> =>
      kind === "quota"
        ? unwrap(api().DELETE("/api/v1/usage/quotas/{quota_id}", { params: { path: { quota_id: item.id ?? "" }, query: { etag: item.etag ?? "" } } }))
        : unwrap(api().DELETE("/api/v1/usage/budgets/{budget_id}", { params: { path: { budget_id: item.id ?? "" }, query: { etag: item.etag ?? "" } } })),
    onSuccess: () => {
      toast.info(`Deleted ${item.name}`);
      void client.invalidateQueries({ queryKey: [kind === "quota" ? "usage-quotas" : "usage-budgets"] });
    },
  });
  return (
    <form
      className="flex items-end gap-1"
      onSubmit={(e) => {
        e.preventDefault();
        if (!DECIMAL.test(value)) return setError("A decimal");
        setError(undefined);
        save.mutate();
      }}
    >
      <div className="w-32">
        <Field id={`limit-${item.id}`} label={`New ${kind === "quota" ? "limit" : "amount"} of ${item.name}`} error={error ?? violationOf(save.error, kind === "quota" ? "limit" : "amount")}>
          <Input id={`limit-${item.id}`} value={value} onChange={(e) => setValue(e.target.value)} />
        </Field>
      </div>
      <Button type="submit" size="sm" variant="secondary" disabled={value === current || save.isPending}>
        Save
      </Button>
      <Button size="sm" variant="ghost" onClick={() => remove.mutate()} disabled={remove.isPending}>
        Delete
      </Button>
      <ErrorNotice error={save.error ?? remove.error} />
    </form>
  );
}

/** Quotas (a meter per period) and budgets (money per period) with this period's count;
 * owners and admins create, change and delete them. */
export function UsageLimits() {
  const { session } = useSession();
  const admin = isAdmin(session?.role);
  const [creating, setCreating] = useState<"quota" | "budget" | null>(null);
  const meters = useQuery({
    queryKey: ["usage-meters"],
    staleTime: 5 * 60_000,
    queryFn: () => unwrap(api().GET("/api/v1/usage/meters")).then((r) => (r.meters ?? []) as Meter[]),
  });
  const quotas = useQuery({ queryKey: ["usage-quotas"], queryFn: () => unwrap(api().GET("/api/v1/usage/quotas", { params: { query: { pageSize: 100 } } })) });
  const budgets = useQuery({ queryKey: ["usage-budgets"], queryFn: () => unwrap(api().GET("/api/v1/usage/budgets", { params: { query: { pageSize: 100 } } })) });
  const scopeText = (item: Quota | Budget) =>
    `${labelOf(SCOPES, item.scope)}${item.scope !== "SCOPE_ORGANIZATION" ? ` ${item.scopeId || "(each)"}` : ""} · per ${labelOf(PERIODS, item.period).toLowerCase()} · ${item.enforcement === "ENFORCEMENT_HARD" ? "hard" : "soft"}`;
  return (
    <Section title="Usage" tabs={USAGE_TABS}>
      <ErrorNotice error={meters.error ?? quotas.error ?? budgets.error} />
      {(["quota", "budget"] as const).map((kind) => {
        const items = (kind === "quota" ? (quotas.data?.quotas ?? []) : (budgets.data?.budgets ?? [])) as (Quota | Budget)[];
        return (
          <section key={kind} aria-label={kind === "quota" ? "Quotas" : "Budgets"} className="flex flex-col gap-3">
            <div className="flex items-center justify-between">
              <h2 className="text-lg font-semibold">{kind === "quota" ? "Quotas" : "Budgets"}</h2>
              {admin ? (
                <Button variant="secondary" onClick={() => setCreating(creating === kind ? null : kind)}>
                  {creating === kind ? "Cancel" : `New ${kind}`}
                </Button>
              ) : null}
            </div>
            {creating === kind && meters.data ? <CreateLimit kind={kind} meters={meters.data} onDone={() => setCreating(null)} /> : null}
            <table className="w-full text-sm">
              <caption className="sr-only">{kind === "quota" ? "Quotas" : "Budgets"}</caption>
              <thead>
                <tr className="border-b border-border text-left">
                  <th className="p-2">Name</th>
                  <th className="p-2">{kind === "quota" ? "Meter and limit" : "Amount"}</th>
                  <th className="p-2">Scope</th>
                  <th className="p-2">This period</th>
                  {admin ? <th className="p-2">Change</th> : null}
                </tr>
              </thead>
              <tbody>
                {items.map((item) => (
                  <tr key={item.id} className="border-b border-border align-top" data-limit={item.name}>
                    <td className="p-2 font-medium">{item.name}</td>
                    <td className="p-2">
                      {"meter" in item
                        ? `${formatDecimal((item as Quota).limit)} ${(item as Quota).meter}`
                        : formatMoney((item as Budget).amount)}
                      <span className="block text-xs text-muted-foreground">
                        warn {item.warningPercent || 80} % · critical {item.criticalPercent || 95} %
                      </span>
                    </td>
                    <td className="p-2">{scopeText(item)}</td>
                    <td className="p-2">
                      <LimitBar status={item.status} money={kind === "budget"} />
                    </td>
                    {admin ? (
                      <td className="p-2">
                        <EditLimit key={item.etag} kind={kind} item={item} />
                      </td>
                    ) : null}
                  </tr>
                ))}
              </tbody>
            </table>
            {items.length === 0 && (kind === "quota" ? quotas.isSuccess : budgets.isSuccess) ? (
              <p className="text-sm text-muted-foreground">None yet.</p>
            ) : null}
          </section>
        );
      })}
    </Section>
  );
}
