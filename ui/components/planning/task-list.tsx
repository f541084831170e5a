"use client";
import { useState } from "react";
import type { Task, TaskStatus } from "@/lib/api";
import { canMove, PRIORITIES, priorityLabel, STATUSES, statusLabel, useMoveTask } from "@/lib/planning";
import { toast } from "../errors";
import { Button } from "../ui/button";
import { Checkbox } from "../ui/checkbox";
import { Field, Input, Select } from "../ui/field";

/** The list view of a project's tasks: filters, sort, multi-select with a bulk status move
 * (only the allowed moves are made). Loaded when the List tab is first shown. */
type SortKey = "title" | "status" | "priority" | "updateTime";

export default function TaskList({
  tasks,
  focused,
  onFocus,
  onOpen,
  projectId,
}: {
  tasks: Task[];
  focused: string;
  onFocus: (id: string) => void;
  onOpen: (task: Task) => void;
  projectId: string;
}) {
  const move = useMoveTask(projectId);
  const [statusFilter, setStatusFilter] = useState("");
  const [priorityFilter, setPriorityFilter] = useState("");
  const [text, setText] = useState("");
  const [sort, setSort] = useState<SortKey>("updateTime");
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [bulkStatus, setBulkStatus] = useState<TaskStatus>("TASK_STATUS_IN_PROGRESS");
  const rank = (t: Task) => STATUSES.findIndex((s) => s.value === t.status);
  const prank = (t: Task) => PRIORITIES.findIndex((p) => p.value === t.priority);
  const rows = tasks
    .filter((t) => !statusFilter || t.status === statusFilter)
    .filter((t) => !priorityFilter || t.priority === priorityFilter)
    .filter((t) => !text || t.title.toLowerCase().includes(text.toLowerCase()))
    .sort((a, b) =>
      sort === "title"
        ? a.title.localeCompare(b.title)
        : sort === "status"
          ? rank(a) - rank(b)
          : sort === "priority"
            ? prank(b) - prank(a)
            : (b.updateTime ?? "").localeCompare(a.updateTime ?? ""),
    );
  const toggle = (id: string) =>
    setSelected((set) => {
      const next = new Set(set);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });
  const applyBulk = async () => {
    const chosen = tasks.filter((t) => t.id && selected.has(t.id));
    const refused: string[] = [];
    for (const task of chosen) {
      if (task.status === bulkStatus) continue;
      if (!canMove(task.status, bulkStatus)) {
        refused.push(task.title);
        continue;
      }
      try {
        await move.mutateAsync({ task, status: bulkStatus });
      } catch (error) {
        toast.error(error);
      }
    }
    if (refused.length) toast.info(`Not moved (that move is not allowed): ${refused.join(", ")}`);
    setSelected(new Set());
  };
  return (
    <div className="flex flex-col gap-3">
      <div className="flex flex-wrap items-end gap-3">
        <Field id="list-search" label="Filter by title">
          <Input id="list-search" type="search" value={text} onChange={(e) => setText(e.target.value)} />
        </Field>
        <Field id="list-status" label="Status">
          <Select id="list-status" value={statusFilter} onChange={(e) => setStatusFilter(e.target.value)}>
            <option value="">Any</option>
            {STATUSES.map((s) => (
              <option key={s.value} value={s.value}>
                {s.label}
              </option>
            ))}
          </Select>
        </Field>
        <Field id="list-priority" label="Priority">
          <Select id="list-priority" value={priorityFilter} onChange={(e) => setPriorityFilter(e.target.value)}>
            <option value="">Any</option>
            {PRIORITIES.map((p) => (
              <option key={p.value} value={p.value}>
                {p.label}
              </option>
            ))}
          </Select>
        </Field>
        <Field id="list-sort" label="Sort by">
          <Select id="list-sort" value={sort} onChange={(e) => setSort(e.target.value as SortKey)}>
            <option value="updateTime">Last change</option>
            <option value="title">Title</option>
            <option value="status">Status</option>
            <option value="priority">Priority</option>
          </Select>
        </Field>
        <div className="ml-auto flex items-end gap-2">
          <Field id="bulk-status" label={`Move ${selected.size} selected to`}>
            <Select id="bulk-status" value={bulkStatus} onChange={(e) => setBulkStatus(e.target.value as TaskStatus)}>
              {STATUSES.map((s) => (
                <option key={s.value} value={s.value}>
                  {s.label}
                </option>
              ))}
            </Select>
          </Field>
          <Button onClick={() => void applyBulk()} disabled={selected.size === 0}>
            Apply
          </Button>
        </div>
      </div>
      <table className="w-full text-sm">
        <caption className="sr-only">Tasks</caption>
        <thead>
          <tr className="border-b border-border text-left">
            <th scope="col" className="w-8 p-2">
              <span className="sr-only">Selected</span>
            </th>
            <th scope="col" className="p-2">Title</th>
            <th scope="col" className="p-2">Status</th>
            <th scope="col" className="p-2">Priority</th>
            <th scope="col" className="p-2">Last change</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((task) => (
            <tr key={task.id} className={`border-b border-border ${focused === task.id ? "bg-accent" : ""}`} data-task-id={task.id}>
              <td className="p-2">
                <Checkbox
                  aria-label={`Select ${task.title}`}
                  checked={selected.has(task.id ?? "")}
                  onCheckedChange={() => toggle(task.id ?? "")}
                />
              </td>
              <td className="p-2">
                <button type="button" className="text-left font-medium underline-offset-2 hover:underline" onFocus={() => onFocus(task.id ?? "")} onClick={() => onOpen(task)}>
                  {task.title}
                </button>
              </td>
              <td className="p-2">{statusLabel(task.status)}</td>
              <td className="p-2">{priorityLabel(task.priority)}</td>
              <td className="p-2">{task.updateTime ? new Date(task.updateTime).toLocaleString() : ""}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
