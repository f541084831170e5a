"use client";
import { useQuery } from "@tanstack/react-query";
import { useMemo } from "react";
import { api, unwrap } from "@/lib/api";
import {
  formatDecimal,
  formatMoney,
  fraction,
  LEVEL_LABELS,
  type LimitState,
  type LimitStatus,
  STATE_LABELS,
  type UsageAlert,
} from "@/lib/usage";
import { ErrorNotice } from "../errors";
import { isAdmin } from "../identity/common";
import { useSession } from "../providers";
import { cn } from "../ui/cn";

export const USAGE_TABS = [
  { href: "/usage", label: "Overview" },
  { href: "/usage/limits", label: "Quotas and budgets" },
  { href: "/usage/alerts", label: "Alerts" },
  { href: "/usage/prices", label: "Prices and meters" },
];

const STATE_TONE: Record<LimitState, string> = {
  LIMIT_STATE_UNSPECIFIED: "bg-primary",
  LIMIT_STATE_OK: "bg-primary",
  LIMIT_STATE_WARNING: "bg-amber-500",
  LIMIT_STATE_CRITICAL: "bg-orange-600",
  LIMIT_STATE_EXCEEDED: "bg-danger",
};

/** A quota's or budget's count this period: used of limit as a bar, its state, when it resets;
 * budgets also show where the period is projected to end. */
export function LimitBar({ status, money }: { status: LimitStatus | undefined; money?: boolean }) {
  if (!status) return <span className="text-xs text-muted-foreground">Per project or user: see alerts</span>;
  const show = money ? formatMoney : (v: string | undefined) => formatDecimal(v);
  const state = status.state ?? "LIMIT_STATE_UNSPECIFIED";
  const share = fraction(status.used, status.limit);
  return (
    <div className="flex min-w-56 flex-col gap-1">
      <div
        role="meter"
        aria-label={`${status.name} used`}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={Math.round(share * 100)}
        aria-valuetext={`${show(status.used)} of ${show(status.limit)}, ${STATE_LABELS[state]}`}
        className="h-2 w-full overflow-hidden rounded-full bg-muted"
      >
        <div className={cn("h-full", STATE_TONE[state])} style={{ width: `${share * 100}%` }} />
      </div>
      <p className="text-xs">
        <span className="font-medium" data-testid="limit-state">
          {STATE_LABELS[state]}
        </span>{" "}
        · {show(status.used)} of {show(status.limit)}
        {money && status.projected ? ` · projected ${formatMoney(status.projected)}` : ""}
        {status.periodEnd ? <span className="text-muted-foreground"> · resets {new Date(status.periodEnd).toLocaleString()}</span> : null}
      </p>
    </div>
  );
}

/** Members' names by user id, for the charts by user and the alerts; the member list is for
 * owners and admins, so others see ids. */
export function useMemberNames(): Map<string, string> {
  const { session } = useSession();
  const org = session?.organizationId ?? "";
  const members = useQuery({
    queryKey: ["members", org],
    enabled: isAdmin(session?.role),
    queryFn: () =>
      unwrap(
        api().GET("/api/v1/identity/organizations/{organization_id}/members", {
          params: { path: { organization_id: org }, query: { pageSize: 1000 } },
        }),
      ),
  });
  return useMemo(
    () => new Map((members.data?.members ?? []).map((m) => [m.userId ?? "", m.displayName || m.email || ""])),
    [members.data],
  );
}

export const alertsKey = ["usage-alerts"] as const;

/** The newest alerts quotas and budgets raised. */
export function AlertList({ limit }: { limit: number }) {
  const names = useMemberNames();
  const alerts = useQuery({
    queryKey: [...alertsKey, limit],
    queryFn: () => unwrap(api().GET("/api/v1/usage/alerts", { params: { query: { pageSize: limit } } })),
    refetchInterval: 15_000,
  });
  const rows = (alerts.data?.alerts ?? []) as UsageAlert[];
  return (
    <div className="flex flex-col gap-2">
      <ErrorNotice error={alerts.error} />
      {alerts.isSuccess && rows.length === 0 ? <p className="text-sm text-muted-foreground">No alerts.</p> : null}
      <ul className="flex flex-col gap-2" aria-label="Alerts">
        {rows.map((alert) => {
          const money = alert.kind === "LIMIT_KIND_BUDGET";
          const show = money ? formatMoney : (v: string | undefined) => formatDecimal(v);
          const level = alert.level ?? "ALERT_LEVEL_UNSPECIFIED";
          return (
            <li
              key={alert.id}
              className={cn(
                "rounded-md border p-3 text-sm",
                level === "ALERT_LEVEL_EXCEEDED" ? "border-danger" : "border-border",
              )}
            >
              <p>
                <span className="font-medium">
                  {money ? "Budget" : "Quota"} “{alert.limitName}” {LEVEL_LABELS[level].toLowerCase()}
                </span>
                {alert.scopeValue ? ` for ${names.get(alert.scopeValue) ?? alert.scopeValue}` : ""}: {show(alert.used)} of {show(alert.limit)}
                {alert.meter ? ` (${alert.meter})` : ""}
                {money && alert.projected ? `, projected ${formatMoney(alert.projected)}` : ""}
              </p>
              <p className="text-xs text-muted-foreground">
                {alert.raiseTime ? new Date(alert.raiseTime).toLocaleString() : ""}
                {alert.periodStart && alert.periodEnd
                  ? ` · period ${new Date(alert.periodStart).toLocaleString()} – ${new Date(alert.periodEnd).toLocaleString()}`
                  : ""}
              </p>
            </li>
          );
        })}
      </ul>
    </div>
  );
}
