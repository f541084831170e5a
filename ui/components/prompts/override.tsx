"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useState } from "react";
import { api, unwrap } from "@/lib/api";
import { allPrompts } from "@/lib/prompt-queries";
import { overrideOf, type Prompt, type PromptVersion, promptsKey } from "@/lib/prompts";
import { ErrorNotice, toast } from "../errors";
import { useSession } from "../providers";
import { Button } from "../ui/button";
import { Field, Select } from "../ui/field";

/** A shared prompt's override for the organization (OverrideSharedPrompt): the
 * organization's own prompt of the same name, version 1 a copy of the chosen shared version.
 * It wins wherever it carries the label asked for, so it goes live when its `production`
 * label is moved. When one exists already, the link to it. */
export default function Override({ prompt, versions }: { prompt: Prompt; versions: PromptVersion[] }) {
  const client = useQueryClient();
  const router = useRouter();
  const organization = useSession().session?.organizationId ?? "";
  const own = useQuery({ queryKey: [...promptsKey, organization, ""], queryFn: () => allPrompts("") });
  const [version, setVersion] = useState(0);
  const create = useMutation({
    mutationFn: () =>
      unwrap(
        api().POST("/api/v1/prompt/sharedPrompts/{prompt_id}:override", {
          params: { path: { prompt_id: prompt.id ?? "" } },
          body: { version },
        }),
      ),
    onSuccess: (reply) => {
      toast.info(`Overridden: ${reply.prompt?.name} is now your organization's`);
      void client.invalidateQueries({ queryKey: promptsKey });
      router.push(`/prompts/${reply.prompt?.id}`);
    },
  });
  const existing = own.data ? overrideOf(prompt, own.data) : undefined;
  const production = prompt.labels?.find((l) => l.name === "production")?.version;
  return (
    <section aria-label="Override" className="flex flex-col gap-2 rounded-md border border-border p-3">
      <h2 className="text-sm font-semibold">Your organization&apos;s version</h2>
      <ErrorNotice error={own.error ?? create.error} />
      {existing ? (
        <p className="text-sm">
          Overridden by{" "}
          <Link href={`/prompts/${existing.id}`} className="font-mono font-medium underline">
            your organization&apos;s {existing.name}
          </Link>{" "}
          wherever it carries the label asked for.
        </p>
      ) : own.data ? (
        <form
          className="flex flex-wrap items-end gap-3"
          onSubmit={(e) => {
            e.preventDefault();
            create.mutate();
          }}
        >
          <div className="w-64">
            <Field id="override-version" label="Start from">
              <Select id="override-version" value={version} onChange={(e) => setVersion(Number(e.target.value))}>
                <option value={0}>{production ? `production (v${production})` : "production"}</option>
                {versions.map((v) => (
                  <option key={v.id} value={v.version}>
                    v{v.version}
                  </option>
                ))}
              </Select>
            </Field>
          </div>
          <Button type="submit" disabled={create.isPending}>
            Override for this organization
          </Button>
          <p className="w-full text-xs text-muted-foreground">
            A prompt of the same name in your organization, which you can edit. It replaces the shared one for each label it carries: at first only latest, so moving its production label puts it live.
          </p>
        </form>
      ) : null}
    </section>
  );
}
