import { render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { ApiError } from "@/lib/errors";
import { ErrorNotice, violationOf } from "./errors";
import { Field, Input } from "./ui/field";

describe("errors in forms", () => {
  const error = new ApiError(400, {
    message: "the task is not valid",
    requestId: "req-42",
    details: [{ fieldViolations: [{ field: "task.title", description: "value length must be at least 1" }] }],
  });

  it("shows a field violation next to its field", () => {
    render(
      <Field id="title" label="Title" error={violationOf(error, "title")}>
        <Input id="title" />
      </Field>,
    );
    expect(screen.getByLabelText("Title")).toBeInTheDocument();
    expect(screen.getByRole("alert")).toHaveTextContent("value length must be at least 1");
  });

  it("shows the message and the request id for support", () => {
    render(<ErrorNotice error={error} />);
    const alert = screen.getByRole("alert");
    expect(alert).toHaveTextContent("the task is not valid");
    expect(alert).toHaveTextContent("Request id: req-42");
  });
});
