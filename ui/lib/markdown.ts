/** The editor's live preview: Markdown rendered as the Knowledge service renders it
 * (markdown-it's CommonMark with tables and strikethrough, raw HTML not passed through,
 * `page:<id>` links to the page's route), then sanitized with DOMPurify as the service cleans
 * with nh3. Loaded with the editor only. */
import DOMPurify from "dompurify";
import MarkdownIt from "markdown-it";

export const PAGE_SCHEME = "page:";
export const PAGE_PATH = "/knowledge/pages/";
const PAGE_ID = /^[0-9A-Za-z_-]{1,64}$/;

const markdown = new MarkdownIt("commonmark", { html: false, linkify: false }).enable(["table", "strikethrough"]);
const validateLink = markdown.validateLink.bind(markdown);
markdown.validateLink = (url) => url.startsWith(PAGE_SCHEME) || validateLink(url);
markdown.core.ruler.push("page_links", (state) => {
  for (const token of state.tokens) {
    for (const child of token.children ?? []) {
      if (child.type !== "link_open") continue;
      const href = String(child.attrGet("href") ?? "");
      if (!href.startsWith(PAGE_SCHEME)) continue;
      const target = href.slice(PAGE_SCHEME.length);
      child.attrSet("href", PAGE_ID.test(target) ? `${PAGE_PATH}${target}` : "#");
    }
  }
});

/** Sanitized HTML of a Markdown text. */
export function renderMarkdown(text: string): string {
  const html = markdown.render(text);
  // DOMPurify needs a DOM: the preview renders in the browser (and jsdom in tests).
  return DOMPurify.sanitize(html, { USE_PROFILES: { html: true } });
}
