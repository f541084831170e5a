"use client";
import { Section } from "../identity/common";
import { AlertList, USAGE_TABS } from "./common";

/** Every alert quotas and budgets raised, newest first. */
export function UsageAlerts() {
  return (
    <Section title="Usage" tabs={USAGE_TABS}>
      <p className="text-sm text-muted-foreground">
        Each threshold (warning, critical, the limit; for budgets also the projection) raises one alert per period.
      </p>
      <AlertList limit={200} />
    </Section>
  );
}
