"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Plus, Trash2 } from "lucide-react";
import { useState } from "react";
import { useFieldArray, useForm } from "react-hook-form";
import { api, unwrap } from "@/lib/api";
import { DECIMAL, formatDecimal, labelOf, type Meter, type Price, PRICE_UNITS, type PriceUnit } from "@/lib/usage";
import { ErrorNotice, toast, violationOf } from "../errors";
import { isAdmin, Section } from "../identity/common";
import { useSession } from "../providers";
import { Button } from "../ui/button";
import { Field, Input, Select } from "../ui/field";
import { USAGE_TABS } from "./common";

const AGGREGATIONS: Record<string, string> = {
  AGGREGATION_SUM: "sum",
  AGGREGATION_COUNT: "count",
  AGGREGATION_MAX: "max",
  AGGREGATION_UNIQUE_COUNT: "unique count",
};

type PriceForm = {
  meter: string;
  unit: Exclude<PriceUnit, "PRICE_UNIT_UNSPECIFIED">;
  tiers: { upTo: string; unitPrice: string }[];
  effectiveFrom: string;
  effectiveUntil: string;
};

function tiersText(price: Price): string {
  return (price.tiers ?? [])
    .map((t) => `$${formatDecimal(t.unitPrice, 12)} ${labelOf(PRICE_UNITS, price.unit)}${t.upTo ? ` up to ${formatDecimal(t.upTo)}` : ""}`)
    .join(", then ");
}

function CreatePrice({ meters, onDone }: { meters: Meter[]; onDone: () => void }) {
  const client = useQueryClient();
  const additive = meters.filter((m) => m.aggregation === "AGGREGATION_SUM" || m.aggregation === "AGGREGATION_COUNT");
  const form = useForm<PriceForm>({
    defaultValues: { meter: additive[0]?.id ?? "", unit: "PRICE_UNIT_PER_MILLION", tiers: [{ upTo: "", unitPrice: "" }], effectiveFrom: "", effectiveUntil: "" },
  });
  const tiers = useFieldArray({ control: form.control, name: "tiers" });
  const create = useMutation({
    mutationFn: (v: PriceForm) =>
      unwrap(
        api().POST("/api/v1/usage/prices", {
          body: {
            meter: v.meter,
            unit: v.unit,
            tiers: v.tiers.map((t) => ({ unitPrice: t.unitPrice, ...(t.upTo ? { upTo: t.upTo } : {}) })),
            ...(v.effectiveFrom ? { effectiveFrom: new Date(v.effectiveFrom).toISOString() } : {}),
            ...(v.effectiveUntil ? { effectiveUntil: new Date(v.effectiveUntil).toISOString() } : {}),
          },
        }),
      ),
    onSuccess: () => {
      toast.info("Created the price");
      void client.invalidateQueries({ queryKey: ["usage-prices"] });
      onDone();
    },
  });
  const errors = form.formState.errors;
  const decimal = { validate: (v: string) => v === "" || DECIMAL.test(v) || "A decimal" };
  return (
    <form onSubmit={form.handleSubmit((v) => create.mutate(v))} className="flex flex-col gap-3 rounded-md border border-border p-3" noValidate aria-label="New price">
      <div className="grid grid-cols-2 gap-3">
        <Field id="price-meter" label="Meter" error={violationOf(create.error, "meter")}>
          <Select id="price-meter" {...form.register("meter")}>
            {additive.map((m) => (
              <option key={m.id} value={m.id}>
                {m.id} ({m.unit})
              </option>
            ))}
          </Select>
        </Field>
        <Field id="price-unit" label="Unit price buys">
          <Select id="price-unit" {...form.register("unit")}>
            {PRICE_UNITS.map((u) => (
              <option key={u.value} value={u.value}>
                {u.label}
              </option>
            ))}
          </Select>
        </Field>
        <Field id="price-from" label="Effective from (default now)" error={violationOf(create.error, "effective_from")}>
          <Input id="price-from" type="datetime-local" {...form.register("effectiveFrom")} />
        </Field>
        <Field id="price-until" label="Effective until (optional)" error={violationOf(create.error, "effective_until")}>
          <Input id="price-until" type="datetime-local" {...form.register("effectiveUntil")} />
        </Field>
      </div>
      <fieldset className="flex flex-col gap-2">
        <legend className="text-sm font-medium">Tiers (of the month&apos;s running total; the last has no end)</legend>
        {tiers.fields.map((row, index) => (
          <div key={row.id} className="flex items-end gap-2">
            <Field id={`tier-price-${index}`} label="Unit price (USD)" error={errors.tiers?.[index]?.unitPrice?.message ?? violationOf(create.error, `tiers[${index}].unit_price`)}>
              <Input id={`tier-price-${index}`} inputMode="decimal" {...form.register(`tiers.${index}.unitPrice`, { required: "A price", ...decimal })} />
            </Field>
            <Field id={`tier-up-to-${index}`} label="Up to" error={errors.tiers?.[index]?.upTo?.message}>
              <Input id={`tier-up-to-${index}`} inputMode="decimal" placeholder="no end" {...form.register(`tiers.${index}.upTo`, decimal)} />
            </Field>
            <Button variant="ghost" size="icon" aria-label={`Remove tier ${index + 1}`} disabled={tiers.fields.length === 1} onClick={() => tiers.remove(index)}>
              <Trash2 className="h-4 w-4" aria-hidden />
            </Button>
          </div>
        ))}
        <Button variant="secondary" size="sm" className="self-start" disabled={tiers.fields.length >= 10} onClick={() => tiers.append({ upTo: "", unitPrice: "" })}>
          <Plus className="h-4 w-4" aria-hidden /> Add tier
        </Button>
      </fieldset>
      <ErrorNotice error={create.error} />
      <Button type="submit" className="self-start" disabled={create.isPending}>
        Create price
      </Button>
    </form>
  );
}

function PriceTable({ caption, prices, admin }: { caption: string; prices: Price[]; admin: boolean }) {
  const client = useQueryClient();
  const remove = useMutation({
    mutationFn: (id: string) => unwrap(api().DELETE("/api/v1/usage/prices/{price_id}", { params: { path: { price_id: id } } })),
    onSuccess: () => {
      toast.info("Deleted the price");
      void client.invalidateQueries({ queryKey: ["usage-prices"] });
    },
  });
  const [now] = useState(() => Date.now());
  return (
    <>
      <table className="w-full text-sm">
        <caption className="sr-only">{caption}</caption>
        <thead>
          <tr className="border-b border-border text-left">
            <th className="p-2">Meter</th>
            <th className="p-2">Price</th>
            <th className="p-2">Effective</th>
            {admin ? (
              <th className="p-2">
                <span className="sr-only">Actions</span>
              </th>
            ) : null}
          </tr>
        </thead>
        <tbody>
          {prices.map((price) => {
            const future = price.effectiveFrom ? Date.parse(price.effectiveFrom) > now : false;
            return (
              <tr key={price.id} className="border-b border-border">
                <td className="p-2 font-mono">{price.meter}</td>
                <td className="p-2">{tiersText(price)}</td>
                <td className="p-2 text-muted-foreground">
                  {price.platformDefault
                    ? "platform default"
                    : `${price.effectiveFrom ? new Date(price.effectiveFrom).toLocaleString() : ""}${price.effectiveUntil ? ` – ${new Date(price.effectiveUntil).toLocaleString()}` : ""}`}
                </td>
                {admin ? (
                  <td className="p-2">
                    {!price.platformDefault && future ? (
                      <Button size="sm" variant="ghost" onClick={() => remove.mutate(price.id ?? "")}>
                        Delete
                      </Button>
                    ) : null}
                  </td>
                ) : null}
              </tr>
            );
          })}
        </tbody>
      </table>
      <ErrorNotice error={remove.error} />
    </>
  );
}

/** What is metered, and what it costs: the platform's defaults, the organization's prices
 * (owners and admins add future ones; a price in effect is history), the meters. */
export function UsagePrices() {
  const { session } = useSession();
  const admin = isAdmin(session?.role);
  const [creating, setCreating] = useState(false);
  const meters = useQuery({
    queryKey: ["usage-meters"],
    staleTime: 5 * 60_000,
    queryFn: () => unwrap(api().GET("/api/v1/usage/meters")).then((r) => (r.meters ?? []) as Meter[]),
  });
  const prices = useQuery({ queryKey: ["usage-prices"], queryFn: () => unwrap(api().GET("/api/v1/usage/prices", { params: { query: { pageSize: 200 } } })) });
  return (
    <Section title="Usage" tabs={USAGE_TABS}>
      <ErrorNotice error={meters.error ?? prices.error} />
      <section aria-label="Prices" className="flex flex-col gap-3">
        <div className="flex items-center justify-between">
          <h2 className="text-lg font-semibold">The organization&apos;s prices</h2>
          {admin ? (
            <Button variant="secondary" onClick={() => setCreating(!creating)}>
              {creating ? "Cancel" : "New price"}
            </Button>
          ) : null}
        </div>
        {creating && meters.data ? <CreatePrice meters={meters.data} onDone={() => setCreating(false)} /> : null}
        <PriceTable caption="The organization's prices" prices={(prices.data?.prices ?? []) as Price[]} admin={admin} />
        {prices.isSuccess && !prices.data.prices?.length ? <p className="text-sm text-muted-foreground">None: the platform defaults apply.</p> : null}
        <h2 className="text-lg font-semibold">Platform defaults</h2>
        <PriceTable caption="Platform defaults" prices={(prices.data?.platformDefaults ?? []) as Price[]} admin={false} />
      </section>
      <section aria-label="Meters" className="flex flex-col gap-3">
        <h2 className="text-lg font-semibold">Meters</h2>
        <table className="w-full text-sm">
          <caption className="sr-only">Meters</caption>
          <thead>
            <tr className="border-b border-border text-left">
              <th className="p-2">Meter</th>
              <th className="p-2">Counts</th>
              <th className="p-2">Unit</th>
              <th className="p-2">Dimensions</th>
              <th className="p-2">Reported by</th>
            </tr>
          </thead>
          <tbody>
            {(meters.data ?? []).map((meter) => (
              <tr key={meter.id} className="border-b border-border">
                <td className="p-2 font-mono">{meter.id}</td>
                <td className="p-2">
                  {AGGREGATIONS[meter.aggregation ?? ""] ?? "—"}: {meter.description}
                </td>
                <td className="p-2">{meter.unit}</td>
                <td className="p-2">{(meter.dimensions ?? []).join(", ")}</td>
                <td className="p-2 font-mono text-xs">{meter.eventType}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
    </Section>
  );
}
