import { describe, expect, it } from "vitest";
import { accessIn, formatTags, parseTags, queryWords, subtreeIds, threads } from "./knowledge";
import { roleMayWrite } from "./roles";

describe("access in a space", () => {
  it("follows the role's permissions when the space has no grants", () => {
    expect(accessIn({ grants: [] }, "member")).toBe("write");
    expect(accessIn({ grants: [] }, "viewer")).toBe("read");
    expect(accessIn(undefined, "custom-role")).toBe("write");
    expect(roleMayWrite("viewer")).toBe(false);
  });

  it("lets only the granted roles in, at their level, and owners and admins always", () => {
    const space = { grants: [{ role: "member", access: "SPACE_ACCESS_READ" as const }, { role: "writers", access: "SPACE_ACCESS_WRITE" as const }] };
    expect(accessIn(space, "member")).toBe("read");
    expect(accessIn(space, "writers")).toBe("write");
    expect(accessIn(space, "viewer")).toBe("none");
    expect(accessIn(space, "admin")).toBe("write");
    expect(accessIn(space, "owner")).toBe("write");
    // A write grant does not lift a viewer above its role's permissions.
    expect(accessIn({ grants: [{ role: "viewer", access: "SPACE_ACCESS_WRITE" }] }, "viewer")).toBe("read");
  });
});

describe("a page's subtree", () => {
  it("holds the page and every page under it, however deep, and nothing beside it", () => {
    const pages = [
      { id: "a", parentId: "" },
      { id: "b", parentId: "a" },
      { id: "c", parentId: "b" },
      { id: "d", parentId: "" },
      { id: "e", parentId: "d" },
    ];
    expect([...subtreeIds(pages, "a")].sort()).toEqual(["a", "b", "c"]);
    expect([...subtreeIds(pages, "c")]).toEqual(["c"]);
  });
});

describe("tags as text", () => {
  it("round-trip name=value and bare tags", () => {
    const tags = [
      { name: "team", value: "platform" },
      { name: "draft", value: "" },
    ];
    expect(formatTags(tags)).toBe("team=platform, draft");
    expect(parseTags(formatTags(tags))).toEqual(tags);
  });

  it("drop blanks and repeats (case-insensitive) and split at the first =", () => {
    expect(parseTags(" a , , A, url=https://x?y=1 ,=v")).toEqual([
      { name: "a", value: "" },
      { name: "url", value: "https://x?y=1" },
    ]);
  });
});

describe("the query's words", () => {
  it("are the plain words and the phrases' words; tags and filters match no text", () => {
    expect(queryWords('Deploy "rolling Restart" [team=ops] {in_name:guide} {updated_by:me} it\'s')).toEqual(["deploy", "rolling", "restart", "it", "s"]);
    expect(queryWords("  ")).toEqual([]);
  });
});

describe("comment threads", () => {
  it("put replies under their thread's start in order, threads oldest first", () => {
    const comments = [
      { id: "r2", threadId: "t1", parentId: "r1", createTime: "2026-01-01T00:03:00Z" },
      { id: "t2", threadId: "t2", createTime: "2026-01-01T00:02:00Z" },
      { id: "t1", threadId: "t1", createTime: "2026-01-01T00:00:00Z" },
      { id: "r1", threadId: "t1", parentId: "t1", createTime: "2026-01-01T00:01:00Z" },
      { id: "orphan", threadId: "gone", parentId: "gone", createTime: "2026-01-01T00:04:00Z" },
    ];
    const result = threads(comments);
    expect(result.map((t) => t.start.id)).toEqual(["t1", "t2", "orphan"]);
    expect(result[0]?.replies.map((r) => r.id)).toEqual(["r1", "r2"]);
  });
});
