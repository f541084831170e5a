import { describe, expect, it } from "vitest";
import { ApiError } from "./errors";

const body = {
  code: 400,
  message: "the task is not valid",
  requestId: "req-1",
  details: [
    { "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason: "INVALID_ARGUMENT", metadata: { a: "b" } },
    {
      "@type": "type.googleapis.com/google.rpc.BadRequest",
      fieldViolations: [{ field: "task.estimate", description: "must be at least 0s" }],
    },
  ],
};

describe("ApiError", () => {
  it("reads the message, request id, reason and field violations of the error body", () => {
    const error = new ApiError(400, body);
    expect(error.message).toBe("the task is not valid");
    expect(error.requestId).toBe("req-1");
    expect(error.reason).toBe("INVALID_ARGUMENT");
    expect(error.metadata).toEqual({ a: "b" });
    expect(error.fieldMessage("estimate")).toBe("must be at least 0s");
  });

  it("matches camelCase form fields to snake_case proto paths and nothing else", () => {
    const error = new ApiError(400, {
      details: [{ fieldViolations: [{ field: "task.depends_on_task_ids", description: "cycle" }] }],
    });
    expect(error.fieldMessage("dependsOnTaskIds")).toBe("cycle");
    expect(error.fieldMessage("title")).toBeUndefined();
  });

  it("survives an empty body", () => {
    const error = new ApiError(502, undefined);
    expect(error.message).toBe("request failed (502)");
    expect(error.violations).toEqual([]);
  });
});
