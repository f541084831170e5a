"use client";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import type { Task } from "@/lib/api";
import { api, unwrap } from "@/lib/api";
import { upsertTask } from "@/lib/planning";
import { ErrorNotice, violationOf } from "../errors";
import { Button } from "../ui/button";
import { Dialog, DialogContent } from "../ui/dialog";
import { Field, Input } from "../ui/field";

/** The new-task dialog (`c` on the board), loaded the first time it opens. */
export default function CreateTask({ projectId, open, onOpenChange }: { projectId: string; open: boolean; onOpenChange: (open: boolean) => void }) {
  const client = useQueryClient();
  const [title, setTitle] = useState("");
  const create = useMutation({
    mutationFn: () =>
      unwrap(api().POST("/api/v1/planning/projects/{project_id}/tasks", { params: { path: { project_id: projectId } }, body: { title } })),
    onSuccess: (reply) => {
      upsertTask(client, projectId, reply.task as Task);
      setTitle("");
      onOpenChange(false);
    },
  });
  return (
    <Dialog open={open} onOpenChange={onOpenChange}>
      <DialogContent title="New task">
        <form
          className="flex flex-col gap-4"
          noValidate
          onSubmit={(e) => {
            e.preventDefault();
            create.mutate();
          }}
        >
          <Field id="new-task-title" label="Title" error={violationOf(create.error, "title")}>
            <Input id="new-task-title" value={title} onChange={(e) => setTitle(e.target.value)} autoFocus />
          </Field>
          <ErrorNotice error={create.error && !violationOf(create.error, "title") ? create.error : null} />
          <div className="flex justify-end">
            <Button type="submit" disabled={create.isPending}>
              Add task
            </Button>
          </div>
        </form>
      </DialogContent>
    </Dialog>
  );
}
