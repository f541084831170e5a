import { describe, expect, it } from "vitest";
import { filesAsDocuments, isFinished, progressPercent } from "./embeddings";

describe("a job's progress", () => {
  it("is the share of documents done, whole percent, capped", () => {
    expect(progressPercent({ doneDocuments: 1, totalDocuments: 3, state: "JOB_STATE_RUNNING" })).toBe(33);
    expect(progressPercent({ doneDocuments: 5, totalDocuments: 4, state: "JOB_STATE_RUNNING" })).toBe(100);
    expect(progressPercent({ totalDocuments: 0, state: "JOB_STATE_QUEUED" })).toBe(0);
    expect(progressPercent({ totalDocuments: 0, state: "JOB_STATE_SUCCEEDED" })).toBe(100);
  });

  it("ends at succeeded, failed or cancelled", () => {
    expect(["JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED"].every((s) => isFinished(s as never))).toBe(true);
    expect(isFinished("JOB_STATE_RUNNING")).toBe(false);
    expect(isFinished(undefined)).toBe(false);
  });
});

describe("files as documents", () => {
  it("take their heading (or name) as title and an id the service accepts", () => {
    const [first, second] = filesAsDocuments([
      { name: "docs/run book.md", content: "intro\n# Restarting the API\nsteps" },
      { name: "notes.txt", content: "plain" },
    ]);
    expect(first).toMatchObject({ id: "docs:run_book.md", title: "Restarting the API" });
    expect(second).toMatchObject({ id: "notes.txt", title: "notes" });
    expect(filesAsDocuments([{ name: "x".repeat(300), content: "" }])[0]?.id).toHaveLength(128);
  });
});
