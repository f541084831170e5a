import { QueryClient } from "@tanstack/react-query";
import { afterEach, describe, expect, it, vi } from "vitest";
import { configureApi, type Task, type TaskStatus } from "./api";
import { moveTaskOptions, queueMove, tasksKey } from "./planning";

afterEach(() => vi.unstubAllGlobals());

describe("status moves of one task", () => {
  it("run one after another, each sending the version the previous one left", async () => {
    const sent: Array<{ status: string; etag: string }> = [];
    let version = 0;
    vi.stubGlobal(
      "fetch",
      vi.fn(async (input: Request | string) => {
        // Signed out here: the BFF refuses the refresh, so the calls go without a token.
        if (typeof input === "string") return new Response("{}", { status: 401 });
        const request = input;
        const body = (await request.json()) as Task;
        sent.push({ status: body.status ?? "", etag: body.etag ?? "" });
        version += 1;
        return Response.json({ task: { ...body, id: "t1", etag: `v${version}` } });
      }),
    );
    configureApi("http://edge.test");
    const client = new QueryClient();
    const task: Task = { id: "t1", title: "T", status: "TASK_STATUS_TO_DO", etag: "v0" };
    client.setQueryData(tasksKey("p"), [task]);

    const moves = [queueMove(client, "p", task, "TASK_STATUS_IN_PROGRESS"), queueMove(client, "p", task, "TASK_STATUS_TO_DO")];
    const done = await Promise.all(moves);

    expect(sent).toEqual([
      { status: "TASK_STATUS_IN_PROGRESS", etag: "v0" },
      { status: "TASK_STATUS_TO_DO", etag: "v1" },
    ]);
    expect(done.map((t) => t.etag)).toEqual(["v1", "v2"]);
  });
});

describe("a move started from a card rendered before the last move answered", () => {
  it("sends the version that move answered, not the card's", async () => {
    const sent: string[] = [];
    let version = 0;
    vi.stubGlobal(
      "fetch",
      vi.fn(async (input: Request | string) => {
        if (typeof input === "string") return new Response("{}", { status: 401 });
        const body = (await input.json()) as Task;
        sent.push(body.etag ?? "");
        version += 1;
        return Response.json({ task: { ...body, id: "t1", etag: `v${version}` } });
      }),
    );
    configureApi("http://moves.edge.test"); // a client of its own, bound to this test's fetch
    const client = new QueryClient();
    // The card as the board rendered it before the first move: the board's keyboard handler
    // still holds this object when the second key comes before the next render.
    const card: Task = { id: "t1", title: "T", status: "TASK_STATUS_TO_DO", etag: "v0" };
    client.setQueryData(tasksKey("p"), [card]);
    const move = (status: TaskStatus) =>
      client.getMutationCache().build(client, moveTaskOptions(client, "p")).execute({ task: card, status });

    await move("TASK_STATUS_IN_PROGRESS"); // answered v1, which the cache now holds
    await move("TASK_STATUS_TO_DO");

    expect(sent).toEqual(["v0", "v1"]);
    expect(client.getQueryData<Task[]>(tasksKey("p"))?.[0]).toMatchObject({ status: "TASK_STATUS_TO_DO", etag: "v2" });
  });
});
