import { describe, expect, it } from "vitest";
import { ALLOWED_MOVES, canMove, STATUSES } from "./planning";

describe("status moves", () => {
  it("follow TaskStatus's documented moves", () => {
    expect(canMove("TASK_STATUS_TO_DO", "TASK_STATUS_IN_PROGRESS")).toBe(true);
    expect(canMove("TASK_STATUS_TO_DO", "TASK_STATUS_DONE")).toBe(false);
    expect(canMove("TASK_STATUS_REVIEW", "TASK_STATUS_DONE")).toBe(true);
    expect(canMove("TASK_STATUS_DONE", "TASK_STATUS_REVIEW")).toBe(false);
    expect(canMove(undefined, "TASK_STATUS_DONE")).toBe(false);
  });

  it("never allow staying put or leaving the board's columns", () => {
    const columns = new Set(STATUSES.map((s) => s.value));
    for (const [from, targets] of Object.entries(ALLOWED_MOVES)) {
      expect(targets).not.toContain(from);
      for (const target of targets) expect(columns.has(target)).toBe(true);
    }
  });
});
