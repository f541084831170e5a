import { describe, expect, it } from "vitest";
import { renderMarkdown } from "./markdown";

describe("the editor's preview", () => {
  it("renders CommonMark with tables and strikethrough", () => {
    const html = renderMarkdown("# Title\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n~~old~~ **new**");
    expect(html).toContain("<h1>Title</h1>");
    expect(html).toContain("<table>");
    expect(html).toContain("<s>old</s>");
    expect(html).toContain("<strong>new</strong>");
  });

  it("points page: links at the page's route, as the service does", () => {
    expect(renderMarkdown("[see](page:abc_123)")).toContain('href="/knowledge/pages/abc_123"');
    expect(renderMarkdown("[bad](page:../x)")).toContain('href="#"');
  });

  it("passes no raw HTML, script or javascript: URL through", () => {
    const html = renderMarkdown('<script>alert(1)</script>\n\n<img src=x onerror=alert(1)>\n\n[x](javascript:alert(1))');
    expect(html).not.toContain("<script");
    expect(html).not.toContain("<img");
    expect(html).not.toContain('href="javascript:');
  });
});
