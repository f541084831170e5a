"use client";
import type { DiffRow } from "@/lib/prompts";
import { cn } from "./ui/cn";

const SIDE: Record<string, { left: string; right: string }> = {
  same: { left: "", right: "" },
  changed: { left: "bg-red-500/15", right: "bg-green-500/15" },
  removed: { left: "bg-red-500/15", right: "bg-muted" },
  added: { left: "bg-muted", right: "bg-green-500/15" },
};

/** A unified diff laid out line by line, the old side left and the new side right. */
export function SideBySide({ rows, fromLabel, toLabel }: { rows: DiffRow[]; fromLabel: string; toLabel: string }) {
  if (rows.length === 0) return <p className="text-sm text-muted-foreground">The contents are the same.</p>;
  return (
    <table className="w-full table-fixed border-collapse font-mono text-xs" aria-label={`Side-by-side diff of ${fromLabel} and ${toLabel}`}>
      <colgroup>
        <col className="w-10" />
        <col />
        <col className="w-10" />
        <col />
      </colgroup>
      <thead>
        <tr className="border-b border-border text-left font-sans text-sm">
          <th scope="col" className="p-1">
            <span className="sr-only">Line</span>
          </th>
          <th scope="col" className="p-1">
            {fromLabel.charAt(0).toUpperCase() + fromLabel.slice(1)}
          </th>
          <th scope="col" className="p-1">
            <span className="sr-only">Line</span>
          </th>
          <th scope="col" className="p-1">
            {toLabel.charAt(0).toUpperCase() + toLabel.slice(1)}
          </th>
        </tr>
      </thead>
      <tbody>
        {rows.map((row, index) =>
          row.kind === "hunk" ? (
            <tr key={index} className="bg-muted text-muted-foreground">
              <td colSpan={4} className="p-1">
                {row.header}
              </td>
            </tr>
          ) : (
            <tr key={index} data-kind={row.kind}>
              <td className="select-none p-1 text-right align-top text-muted-foreground">{row.left?.number ?? ""}</td>
              <td className={cn("whitespace-pre-wrap break-words p-1 align-top", SIDE[row.kind]?.left)} data-side="from">
                {row.kind === "removed" || row.kind === "changed" ? <span className="sr-only">removed: </span> : null}
                {row.left?.text ?? ""}
              </td>
              <td className="select-none p-1 text-right align-top text-muted-foreground">{row.right?.number ?? ""}</td>
              <td className={cn("whitespace-pre-wrap break-words p-1 align-top", SIDE[row.kind]?.right)} data-side="to">
                {row.kind === "added" || row.kind === "changed" ? <span className="sr-only">added: </span> : null}
                {row.right?.text ?? ""}
              </td>
            </tr>
          ),
        )}
      </tbody>
    </table>
  );
}

