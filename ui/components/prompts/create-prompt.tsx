"use client";
import { zodResolver } from "@hookform/resolvers/zod";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { useForm } from "react-hook-form";
import { z } from "zod";
import { api, unwrap } from "@/lib/api";
import { promptsKey, templateVariables } from "@/lib/prompts";
import { ErrorNotice, toast, violationOf } from "../errors";
import { Button } from "../ui/button";
import { Dialog, DialogContent } from "../ui/dialog";
import { Field, Input, Select, Textarea } from "../ui/field";

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*(\/[A-Za-z0-9][A-Za-z0-9_.-]*){0,7}$/;

const createSchema = z.object({
  name: z.string().min(1, "Name the prompt").max(200).regex(NAME, "Segments of letters, digits, _ - . separated by /"),
  type: z.enum(["PROMPT_TYPE_TEXT", "PROMPT_TYPE_CHAT"]),
  description: z.string().max(2000),
  content: z.string().min(1, "Write the first version's content").max(100000),
});
type CreateValues = z.infer<typeof createSchema>;

/** The new-prompt dialog: name, type, description and the first version's content. */
export default function CreatePrompt({ folder, onClose }: { folder: string; onClose: () => void }) {
  const client = useQueryClient();
  const router = useRouter();
  const form = useForm<CreateValues>({
    resolver: zodResolver(createSchema),
    defaultValues: { name: folder ? `${folder}/` : "", type: "PROMPT_TYPE_TEXT", description: "", content: "" },
  });
  const create = useMutation({
    mutationFn: (values: CreateValues) => {
      // Every name the content reads must be declared: they start as required strings.
      const variables = templateVariables(values.content).map((name) => ({
        name,
        type: "VARIABLE_TYPE_STRING" as const,
        required: true,
      }));
      const version =
        values.type === "PROMPT_TYPE_TEXT"
          ? { template: values.content, variables, commitMessage: "First version" }
          : { messages: [{ role: "MESSAGE_ROLE_USER" as const, content: values.content }], variables, commitMessage: "First version" };
      return unwrap(
        api().POST("/api/v1/prompt/prompts", {
          body: { prompt: { name: values.name, type: values.type, description: values.description }, version },
        }),
      );
    },
    onSuccess: (reply) => {
      void client.invalidateQueries({ queryKey: promptsKey });
      toast.info(`Created ${reply.prompt?.name}`);
      onClose();
      router.push(`/prompts/${reply.prompt?.id}`);
    },
  });
  const { errors } = form.formState;
  return (
    <Dialog open onOpenChange={(open) => !open && onClose()}>
      <DialogContent title="New prompt" description="Variables the content uses ({{ name }}) start as required strings.">
        <form onSubmit={form.handleSubmit((v) => create.mutate(v))} className="flex flex-col gap-4" noValidate>
          <Field id="prompt-name" label="Name" hint="A path: team/review" error={errors.name?.message ?? violationOf(create.error, "name")}>
            <Input id="prompt-name" aria-invalid={!!errors.name} {...form.register("name")} />
          </Field>
          <Field id="prompt-type" label="Type">
            <Select id="prompt-type" {...form.register("type")}>
              <option value="PROMPT_TYPE_TEXT">Text</option>
              <option value="PROMPT_TYPE_CHAT">Chat</option>
            </Select>
          </Field>
          <Field id="prompt-description" label="Description" error={violationOf(create.error, "description")}>
            <Input id="prompt-description" {...form.register("description")} />
          </Field>
          <Field
            id="prompt-content"
            label="Content"
            hint="The template (text) or the first user message (chat)"
            error={errors.content?.message ?? violationOf(create.error, "template") ?? violationOf(create.error, "content")}
          >
            <Textarea id="prompt-content" className="font-mono" aria-invalid={!!errors.content} {...form.register("content")} />
          </Field>
          <ErrorNotice error={create.error} />
          <div className="flex justify-end">
            <Button type="submit" disabled={create.isPending}>
              Create prompt
            </Button>
          </div>
        </form>
      </DialogContent>
    </Dialog>
  );
}

