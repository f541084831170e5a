"use client";
import { X } from "lucide-react";
import { useSyncExternalStore } from "react";
import { ApiError, isApiError } from "@/lib/errors";

/** What a failure says to a person, with the request id support asks for. */
export function describe(error: unknown): { message: string; requestId: string } {
  if (isApiError(error)) return { message: error.message, requestId: error.requestId };
  if (error instanceof Error) return { message: error.message, requestId: "" };
  return { message: "Something went wrong.", requestId: "" };
}

/** The inline form of an error: its message and request id. */
export function ErrorNotice({ error }: { error: unknown }) {
  if (!error) return null;
  const { message, requestId } = describe(error);
  return (
    <div role="alert" className="rounded-md border border-danger p-3 text-sm text-danger">
      <p>{message}</p>
      {requestId ? <p className="mt-1 text-xs">Request id: {requestId}</p> : null}
    </div>
  );
}

/** The API's message for one form field, if the error names it. */
export function violationOf(error: unknown, field: string): string | undefined {
  return error instanceof ApiError ? error.fieldMessage(field) : undefined;
}

type Toast = { id: number; message: string; requestId: string; tone: "error" | "info" };
let toasts: Toast[] = [];
let nextId = 1;
const subscribers = new Set<() => void>();

function emit(): void {
  for (const subscriber of subscribers) subscriber();
}

export const toast = {
  error(error: unknown): void {
    const { message, requestId } = describe(error);
    toasts = [...toasts, { id: nextId++, message, requestId, tone: "error" }];
    emit();
  },
  info(message: string): void {
    const id = nextId++;
    toasts = [...toasts, { id, message, requestId: "", tone: "info" }];
    emit();
    setTimeout(() => dismiss(id), 6000);
  },
};

function dismiss(id: number): void {
  toasts = toasts.filter((t) => t.id !== id);
  emit();
}

const EMPTY: Toast[] = [];

/** Where toasts appear; announced to screen readers. */
export function Toaster() {
  const shown = useSyncExternalStore(
    (callback) => {
      subscribers.add(callback);
      return () => subscribers.delete(callback);
    },
    () => toasts,
    () => EMPTY,
  );
  return (
    <div aria-live="polite" className="fixed bottom-4 right-4 z-[60] flex w-96 flex-col gap-2">
      {shown.map((t) => (
        <div
          key={t.id}
          role={t.tone === "error" ? "alert" : "status"}
          className={`flex items-start gap-2 rounded-md border bg-card p-3 text-sm shadow-lg ${t.tone === "error" ? "border-danger" : "border-border"}`}
        >
          <div className="flex-1">
            <p>{t.message}</p>
            {t.requestId ? <p className="mt-1 text-xs text-muted-foreground">Request id: {t.requestId}</p> : null}
          </div>
          <button type="button" aria-label="Dismiss" onClick={() => dismiss(t.id)}>
            <X className="h-4 w-4" aria-hidden />
          </button>
        </div>
      ))}
    </div>
  );
}
