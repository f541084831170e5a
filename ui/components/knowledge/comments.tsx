"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, unwrap } from "@/lib/api";
import { type Comment, pageKey, threads } from "@/lib/knowledge";
import { ErrorNotice, toast, violationOf } from "../errors";
import { when } from "../identity/common";
import { useSession } from "../providers";
import { Button } from "../ui/button";
import { Textarea } from "../ui/field";

function CommentForm({ pageId, parentId, label, onDone }: { pageId: string; parentId: string; label: string; onDone?: () => void }) {
  const client = useQueryClient();
  const [markdown, setMarkdown] = useState("");
  const post = useMutation({
    mutationFn: () =>
      unwrap(api().POST("/api/v1/knowledge/pages/{page_id}/comments", { params: { path: { page_id: pageId } }, body: { markdown, parentId } })),
    onSuccess: () => {
      setMarkdown("");
      void client.invalidateQueries({ queryKey: [...pageKey(pageId), "comments"] });
      onDone?.();
    },
  });
  return (
    <form
      aria-label={label}
      className="flex flex-col gap-2"
      onSubmit={(event) => {
        event.preventDefault();
        post.mutate();
      }}
    >
      <Textarea aria-label={label} value={markdown} onChange={(e) => setMarkdown(e.target.value)} maxLength={10000} />
      {violationOf(post.error, "markdown") ? <p className="text-xs text-danger">{violationOf(post.error, "markdown")}</p> : <ErrorNotice error={post.error} />}
      <div>
        <Button type="submit" size="sm" disabled={post.isPending || !markdown.trim()}>
          {parentId ? "Reply" : "Comment"}
        </Button>
      </div>
    </form>
  );
}

function CommentBody({ comment, pageId, mine }: { comment: Comment; pageId: string; mine: boolean }) {
  const client = useQueryClient();
  const remove = useMutation({
    mutationFn: () =>
      unwrap(api().DELETE("/api/v1/knowledge/pages/{page_id}/comments/{comment_id}", { params: { path: { page_id: pageId, comment_id: comment.id ?? "" } } })),
    onSuccess: () => void client.invalidateQueries({ queryKey: [...pageKey(pageId), "comments"] }),
    onError: (error) => toast.error(error),
  });
  return (
    <div className="flex flex-col gap-1">
      <div className="flex items-baseline gap-2 text-xs text-muted-foreground">
        <span className="font-mono">{comment.author}</span>
        <span>{when(comment.createTime)}</span>
        {mine ? (
          <button type="button" className="ml-auto underline" onClick={() => remove.mutate()} disabled={remove.isPending}>
            Delete
          </button>
        ) : null}
      </div>
      {/* Rendered and sanitized by the service. */}
      <div className="prose-page text-sm" dangerouslySetInnerHTML={{ __html: comment.html ?? "" }} />
    </div>
  );
}

/** A page's comments in threads: a thread's start, its replies in order, a reply form each. */
export function Comments({ pageId }: { pageId: string }) {
  const { session } = useSession();
  const [replying, setReplying] = useState("");
  const comments = useQuery({
    queryKey: [...pageKey(pageId), "comments"],
    queryFn: async () =>
      ((await unwrap(api().GET("/api/v1/knowledge/pages/{page_id}/comments", { params: { path: { page_id: pageId }, query: { pageSize: 1000 } } })))
        .comments ?? []) as Comment[],
  });
  const mayComment = !!session;
  return (
    <section aria-label="Comments" className="flex max-w-3xl flex-col gap-3">
      <h2 className="font-medium">Comments</h2>
      <ErrorNotice error={comments.error} />
      {threads(comments.data ?? []).map((thread) => (
        <article key={thread.start.id} aria-label={`Thread by ${thread.start.author}`} className="flex flex-col gap-2 rounded-md border border-border p-3">
          <CommentBody comment={thread.start} pageId={pageId} mine={thread.start.author === session?.user.id} />
          {thread.replies.length ? (
            <ul className="flex flex-col gap-2 border-l border-border pl-3">
              {thread.replies.map((reply) => (
                <li key={reply.id}>
                  <CommentBody comment={reply} pageId={pageId} mine={reply.author === session?.user.id} />
                </li>
              ))}
            </ul>
          ) : null}
          {replying === thread.start.id ? (
            <CommentForm pageId={pageId} parentId={thread.start.id ?? ""} label="Your reply" onDone={() => setReplying("")} />
          ) : mayComment ? (
            <div>
              <Button size="sm" variant="ghost" onClick={() => setReplying(thread.start.id ?? "")}>
                Reply
              </Button>
            </div>
          ) : null}
        </article>
      ))}
      {mayComment ? <CommentForm pageId={pageId} parentId="" label="New comment" /> : null}
    </section>
  );
}
