/** The edge's error body `{code, message, details, requestId}` as one typed error. */

export type FieldViolation = { field: string; description: string };

export type ErrorBody = {
  code?: number;
  message?: string;
  details?: Array<Record<string, unknown>>;
  requestId?: string;
};

export class ApiError extends Error {
  readonly status: number;
  readonly requestId: string;
  readonly reason: string;
  readonly violations: FieldViolation[];
  readonly metadata: Record<string, string>;

  constructor(status: number, body: ErrorBody | undefined) {
    super(body?.message || `request failed (${status})`);
    this.name = "ApiError";
    this.status = status;
    this.requestId = body?.requestId ?? "";
    const details = body?.details ?? [];
    const info = details.find((d) => typeof d.reason === "string");
    this.reason = (info?.reason as string | undefined) ?? "";
    this.metadata = (info?.metadata as Record<string, string> | undefined) ?? {};
    this.violations = details.flatMap((d) =>
      Array.isArray(d.fieldViolations) ? (d.fieldViolations as FieldViolation[]) : [],
    );
  }

  /** The violation messages of one field, matched on its last path segment(s). */
  fieldMessage(field: string): string | undefined {
    const snake = field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    const found = this.violations.find(
      (v) => v.field === snake || v.field.endsWith(`.${snake}`) || v.field === field,
    );
    return found?.description;
  }
}

/** Parses a failed fetch response into an ApiError (the body may be empty or not JSON). */
export async function apiErrorOf(response: Response): Promise<ApiError> {
  let body: ErrorBody | undefined;
  try {
    body = (await response.json()) as ErrorBody;
  } catch {
    body = undefined;
  }
  return new ApiError(response.status, body);
}

export function isApiError(error: unknown): error is ApiError {
  return error instanceof ApiError;
}

/** A write refused because the stored resource changed since it was read (its etag). */
export function isConflict(error: unknown): boolean {
  return error instanceof ApiError && (error.status === 412 || error.reason === "ETAG_MISMATCH");
}
