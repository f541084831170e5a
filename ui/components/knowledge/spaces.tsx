"use client";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useState } from "react";
import { api, unwrap } from "@/lib/api";
import { type Space, spacesKey } from "@/lib/knowledge";
import { roleMayWrite } from "@/lib/roles";
import { ErrorNotice, violationOf } from "../errors";
import { useSession } from "../providers";
import { Button } from "../ui/button";
import { Field, Input } from "../ui/field";
import { KnowledgeSection } from "./frame";
import { useSpaces } from "./queries";

/** The organization's spaces, and a new one. */
export function Spaces() {
  const { session } = useSession();
  const spaces = useSpaces();
  const client = useQueryClient();
  const router = useRouter();
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const create = useMutation({
    mutationFn: () => unwrap(api().POST("/api/v1/knowledge/spaces", { body: { name, description } })),
    onSuccess: (reply) => {
      void client.invalidateQueries({ queryKey: spacesKey });
      router.push(`/knowledge/spaces/${reply.space?.id}`);
    },
  });
  const writer = roleMayWrite(session?.role);
  return (
    <KnowledgeSection title="Knowledge">
      <ErrorNotice error={spaces.error} />
      <ul aria-label="Spaces" className="grid gap-3 sm:grid-cols-2 lg:grid-cols-3">
        {(spaces.data ?? []).map((space: Space) => (
          <li key={space.id}>
            <Link href={`/knowledge/spaces/${space.id}`} className="flex h-full flex-col gap-1 rounded-md border border-border p-3 hover:bg-accent">
              <span className="font-medium">{space.name}</span>
              {space.description ? <span className="text-sm text-muted-foreground">{space.description}</span> : null}
              {space.grants?.length ? <span className="text-xs text-muted-foreground">Restricted to {space.grants.map((g) => g.role).join(", ")}</span> : null}
            </Link>
          </li>
        ))}
      </ul>
      {spaces.data && spaces.data.length === 0 ? <p className="text-sm text-muted-foreground">No spaces yet.</p> : null}
      {writer ? (
        <form
          aria-label="New space"
          className="flex max-w-xl flex-col gap-3 rounded-md border border-border p-4"
          onSubmit={(event) => {
            event.preventDefault();
            create.mutate();
          }}
        >
          <h2 className="font-medium">New space</h2>
          <Field id="space-name" label="Name" error={violationOf(create.error, "name")}>
            <Input id="space-name" value={name} onChange={(e) => setName(e.target.value)} required maxLength={200} />
          </Field>
          <Field id="space-description" label="Description" error={violationOf(create.error, "description")}>
            <Input id="space-description" value={description} onChange={(e) => setDescription(e.target.value)} maxLength={2000} />
          </Field>
          {create.error && !violationOf(create.error, "name") && !violationOf(create.error, "description") ? <ErrorNotice error={create.error} /> : null}
          <div>
            <Button type="submit" disabled={create.isPending || !name.trim()}>
              Create space
            </Button>
          </div>
        </form>
      ) : null}
    </KnowledgeSection>
  );
}
