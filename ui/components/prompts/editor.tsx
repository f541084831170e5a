"use client";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { Plus, Trash2 } from "lucide-react";
import { useMemo, useState } from "react";
import { useFieldArray, useForm, type UseFormReturn, useWatch } from "react-hook-form";
import { api, unwrap } from "@/lib/api";
import { promptChanged } from "@/lib/prompt-queries";
import {
  type ChatMessage,
  formatVariable,
  type MessageRole,
  type ModelConfig,
  parseVariable,
  type Prompt,
  type PromptVersion,
  type ResponseFormat,
  ROLES,
  roleLabel,
  templateVariables,
  type Variable,
  VARIABLE_TYPES,
  type VariableType,
} from "@/lib/prompts";
import { ErrorNotice, toast, violationOf } from "../errors";
import { Button } from "../ui/button";
import { Field, Input, Label, Select, Textarea } from "../ui/field";

type VariableRow = {
  name: string;
  type: VariableType;
  required: boolean;
  defaultValue: string;
  description: string;
  validation: NonNullable<Variable["validation"]>;
};

type Values = {
  template: string;
  messages: { role: MessageRole; content: string }[];
  variables: VariableRow[];
  model: string;
  temperature: string;
  topP: string;
  maxOutputTokens: string;
  responseFormat: ResponseFormat;
  commitMessage: string;
};

function valuesOf(version: PromptVersion | undefined): Values {
  const config: ModelConfig = version?.modelConfig ?? {};
  return {
    template: version?.template ?? "",
    messages: (version?.messages ?? []).map((m) => ({ role: m.role ?? "MESSAGE_ROLE_USER", content: m.content ?? "" })),
    variables: (version?.variables ?? []).map((v) => ({
      name: v.name,
      type: v.type,
      required: v.required ?? false,
      defaultValue: formatVariable(v.type, v.defaultValue),
      description: v.description ?? "",
      validation: v.validation ?? {},
    })),
    model: config.model ?? "",
    temperature: config.temperature === undefined ? "" : String(config.temperature),
    topP: config.topP === undefined ? "" : String(config.topP),
    maxOutputTokens: config.maxOutputTokens === undefined ? "" : String(config.maxOutputTokens),
    responseFormat: config.responseFormat ?? "RESPONSE_FORMAT_UNSPECIFIED",
    commitMessage: "",
  };
}

/** The form as a version's content: what the service stores, or previews. Fields the form does
 * not show (stop sequences, penalties, a JSON schema, extras, validation rules) are kept from
 * the version it started from. A default that does not parse as its type is an error here. */
function versionOf(chat: boolean, values: Values, base: ModelConfig): { version: PromptVersion; errors: Record<string, string> } {
  const errors: Record<string, string> = {};
  const variables: Variable[] = values.variables.map((row, index) => {
    const parsed = parseVariable(row.type, row.defaultValue);
    if (!parsed.ok) errors[`variables.${index}.defaultValue`] = parsed.error;
    const validation = { ...row.validation };
    if (!validation.pattern) delete validation.pattern;
    return {
      name: row.name,
      type: row.type,
      required: row.required,
      description: row.description,
      ...(parsed.ok && parsed.value !== undefined ? { defaultValue: parsed.value } : {}),
      ...(Object.keys(validation).length ? { validation } : {}),
    };
  });
  const number = (text: string) => (text.trim() === "" ? undefined : Number(text));
  const modelConfig: ModelConfig = {
    ...base,
    model: values.model,
    temperature: number(values.temperature),
    topP: number(values.topP),
    maxOutputTokens: number(values.maxOutputTokens),
    responseFormat: values.responseFormat,
  };
  for (const key of Object.keys(modelConfig) as (keyof ModelConfig)[]) {
    if (modelConfig[key] === undefined) delete modelConfig[key];
  }
  const content = chat
    ? { messages: values.messages.map((m): Required<ChatMessage> => ({ role: m.role, content: m.content })) }
    : { template: values.template };
  return { version: { ...content, variables, modelConfig, commitMessage: values.commitMessage }, errors };
}

function VariablesEditor({ form, chat }: { form: UseFormReturn<Values>; chat: boolean }) {
  const rows = useFieldArray({ control: form.control, name: "variables" });
  const addUsed = () => {
    const values = form.getValues();
    const text = chat ? values.messages.map((m) => m.content).join("\n") : values.template;
    const declared = new Set(values.variables.map((v) => v.name));
    for (const name of templateVariables(text)) {
      if (!declared.has(name))
        rows.append({ name, type: "VARIABLE_TYPE_STRING", required: true, defaultValue: "", description: "", validation: {} });
    }
  };
  return (
    <fieldset className="flex flex-col gap-3 rounded-md border border-border p-3">
      <legend className="px-1 text-sm font-medium">Variables</legend>
      {rows.fields.map((row, index) => {
        const error = form.formState.errors.variables?.[index];
        return (
          <div key={row.id} className="grid grid-cols-[1fr_9rem_1fr_auto] items-end gap-2" data-testid={`variable-${index}`}>
            <Field id={`var-name-${index}`} label="Name" error={error?.name?.message}>
              <Input
                id={`var-name-${index}`}
                className="font-mono"
                {...form.register(`variables.${index}.name`, {
                  pattern: { value: /^[A-Za-z_][A-Za-z0-9_]{0,63}$/, message: "A letter or _, then letters, digits or _" },
                })}
              />
            </Field>
            <Field id={`var-type-${index}`} label="Type">
              <Select id={`var-type-${index}`} {...form.register(`variables.${index}.type`)}>
                {VARIABLE_TYPES.map((t) => (
                  <option key={t.value} value={t.value}>
                    {t.label}
                  </option>
                ))}
              </Select>
            </Field>
            <Field id={`var-default-${index}`} label="Default" error={error?.defaultValue?.message}>
              <Input id={`var-default-${index}`} {...form.register(`variables.${index}.defaultValue`)} />
            </Field>
            <Button variant="ghost" size="icon" aria-label={`Remove variable ${index + 1}`} onClick={() => rows.remove(index)}>
              <Trash2 className="h-4 w-4" aria-hidden />
            </Button>
            <label className="flex items-center gap-2 text-sm">
              <input type="checkbox" {...form.register(`variables.${index}.required`)} /> Required
            </label>
            <Field id={`var-pattern-${index}`} label="Pattern (RE2, strings)">
              <Input id={`var-pattern-${index}`} className="font-mono" {...form.register(`variables.${index}.validation.pattern`)} />
            </Field>
            <div className="col-span-2">
              <Field id={`var-description-${index}`} label="Description">
                <Input id={`var-description-${index}`} {...form.register(`variables.${index}.description`)} />
              </Field>
            </div>
          </div>
        );
      })}
      <div className="flex gap-2">
        <Button
          variant="secondary"
          size="sm"
          onClick={() =>
            rows.append({ name: "", type: "VARIABLE_TYPE_STRING", required: false, defaultValue: "", description: "", validation: {} })
          }
        >
          <Plus className="h-4 w-4" aria-hidden /> Add variable
        </Button>
        <Button variant="secondary" size="sm" onClick={addUsed}>
          Declare the names the content uses
        </Button>
      </div>
    </fieldset>
  );
}

function MessagesEditor({ form }: { form: UseFormReturn<Values> }) {
  const rows = useFieldArray({ control: form.control, name: "messages" });
  return (
    <fieldset className="flex flex-col gap-3">
      <legend className="text-sm font-medium">Messages</legend>
      {rows.fields.map((row, index) => (
        <div key={row.id} className="flex flex-col gap-1 rounded-md border border-border p-2">
          <div className="flex items-center gap-2">
            <Label htmlFor={`message-role-${index}`} className="sr-only">
              Role of message {index + 1}
            </Label>
            <Select id={`message-role-${index}`} className="w-40" {...form.register(`messages.${index}.role`)}>
              {ROLES.map((r) => (
                <option key={r.value} value={r.value}>
                  {r.label}
                </option>
              ))}
            </Select>
            <Button variant="ghost" size="icon" className="ml-auto" aria-label={`Remove message ${index + 1}`} onClick={() => rows.remove(index)}>
              <Trash2 className="h-4 w-4" aria-hidden />
            </Button>
          </div>
          <Label htmlFor={`message-content-${index}`} className="sr-only">
            Content of message {index + 1}
          </Label>
          <Textarea id={`message-content-${index}`} className="font-mono" {...form.register(`messages.${index}.content`)} />
        </div>
      ))}
      <Button variant="secondary" size="sm" className="self-start" onClick={() => rows.append({ role: "MESSAGE_ROLE_USER", content: "" })}>
        <Plus className="h-4 w-4" aria-hidden /> Add message
      </Button>
    </fieldset>
  );
}

/** Values for the preview, one field per declared variable, typed by its declaration. */
function Preview({ chat, form, base }: { chat: boolean; form: UseFormReturn<Values>; base: ModelConfig }) {
  const declared = useWatch({ control: form.control, name: "variables" });
  const [inputs, setInputs] = useState<Record<string, string | boolean>>({});
  const [localErrors, setLocalErrors] = useState<Record<string, string>>({});
  const preview = useMutation({
    mutationFn: (body: { version: PromptVersion; variables: Record<string, unknown> }) =>
      unwrap(
        api().POST("/api/v1/prompt/prompts:preview", {
          body: { type: chat ? "PROMPT_TYPE_CHAT" : "PROMPT_TYPE_TEXT", version: body.version as never, variables: body.variables },
        }),
      ),
  });
  const run = () => {
    const { version } = versionOf(chat, form.getValues(), base);
    const variables: Record<string, unknown> = {};
    const errors: Record<string, string> = {};
    for (const variable of declared) {
      const raw = inputs[variable.name];
      if (raw === undefined) continue;
      const parsed = parseVariable(variable.type, raw);
      if (!parsed.ok) errors[variable.name] = parsed.error;
      else if (parsed.value !== undefined) variables[variable.name] = parsed.value;
    }
    setLocalErrors(errors);
    if (Object.keys(errors).length === 0) preview.mutate({ version, variables });
  };
  return (
    <section aria-label="Render preview" className="flex flex-col gap-3 rounded-md border border-border p-3">
      <h2 className="text-sm font-medium">Render preview</h2>
      {declared.length === 0 ? <p className="text-xs text-muted-foreground">No variables declared.</p> : null}
      {declared.map((variable) => {
        const id = `value-${variable.name}`;
        const label = `${variable.name}${variable.required ? " (required)" : ""}`;
        const error = localErrors[variable.name] ?? violationOf(preview.error, `variables.${variable.name}`);
        if (variable.type === "VARIABLE_TYPE_BOOLEAN") {
          return (
            <label key={variable.name} className="flex items-center gap-2 text-sm">
              <input
                type="checkbox"
                checked={inputs[variable.name] === true}
                onChange={(e) => setInputs({ ...inputs, [variable.name]: e.target.checked })}
              />
              {label}
            </label>
          );
        }
        const json = variable.type === "VARIABLE_TYPE_LIST" || variable.type === "VARIABLE_TYPE_OBJECT";
        const Control = json || variable.type === "VARIABLE_TYPE_STRING" ? Textarea : Input;
        return (
          <Field key={variable.name} id={id} label={label} hint={variable.description || undefined} error={error}>
            <Control
              id={id}
              className={json ? "min-h-16 font-mono" : "min-h-9"}
              inputMode={variable.type === "VARIABLE_TYPE_INTEGER" || variable.type === "VARIABLE_TYPE_NUMBER" ? "decimal" : undefined}
              placeholder={variable.defaultValue ? `default: ${variable.defaultValue}` : undefined}
              aria-invalid={!!error}
              value={String(inputs[variable.name] ?? "")}
              onChange={(e: { target: { value: string } }) => setInputs({ ...inputs, [variable.name]: e.target.value })}
            />
          </Field>
        );
      })}
      <Button variant="secondary" onClick={run} disabled={preview.isPending} className="self-start">
        Render preview
      </Button>
      {preview.error && !declared.some((v) => violationOf(preview.error, `variables.${v.name}`)) ? (
        <ErrorNotice error={preview.error} />
      ) : null}
      {preview.data ? (
        <output aria-label="Rendered" className="flex flex-col gap-2">
          {chat ? (
            (preview.data.messages ?? []).map((message, index) => (
              <div key={index} className="rounded-md bg-muted p-2 text-sm">
                <p className="text-xs font-medium text-muted-foreground">{roleLabel(message.role as MessageRole)}</p>
                <pre className="whitespace-pre-wrap font-mono">{message.content}</pre>
              </div>
            ))
          ) : (
            <pre className="whitespace-pre-wrap rounded-md bg-muted p-2 font-mono text-sm" data-testid="rendered-text">
              {preview.data.text}
            </pre>
          )}
        </output>
      ) : null}
    </section>
  );
}

/** The editor of a prompt's next version, starting from one of its versions: content (a
 * template, or chat messages), the variables form, the model config, a render preview of the
 * unsaved content, and saving as a new immutable version. */
export default function Editor({ prompt, versions, version }: { prompt: Prompt; versions: PromptVersion[]; version: number }) {
  const client = useQueryClient();
  const chat = prompt.type === "PROMPT_TYPE_CHAT";
  const start = useMemo(() => versions.find((v) => v.version === version) ?? versions[0], [versions, version]);
  const base: ModelConfig = start?.modelConfig ?? {};
  const form = useForm<Values>({ defaultValues: valuesOf(start) });
  const save = useMutation({
    mutationFn: (body: PromptVersion) =>
      unwrap(
        api().POST("/api/v1/prompt/prompts/{prompt_id}/versions", {
          params: { path: { prompt_id: prompt.id ?? "" } },
          body: body as never,
        }),
      ),
    onSuccess: (reply) => {
      toast.info(`Saved version ${reply.version?.version}`);
      promptChanged(client, prompt.id ?? "");
    },
  });
  const submit = form.handleSubmit((values) => {
    const { version: body, errors } = versionOf(chat, values, base);
    for (const [path, message] of Object.entries(errors)) form.setError(path as never, { message });
    if (Object.keys(errors).length === 0) save.mutate(body);
  });
  const { errors } = form.formState;
  const readOnly = prompt.shared;
  return (
    <div className="grid gap-6 lg:grid-cols-[minmax(0,3fr)_minmax(0,2fr)]">
      <form onSubmit={submit} className="flex flex-col gap-4" noValidate aria-label="Prompt editor">
        <p className="text-sm text-muted-foreground">
          Starting from version {start?.version}
          {start?.labels?.length ? ` (${start.labels.join(", ")})` : ""}. Saving makes version {(prompt.latestVersion ?? 0) + 1}; versions never
          change.
        </p>
        {chat ? (
          <MessagesEditor form={form} />
        ) : (
          <Field id="template" label="Template" hint="Jinja: {{ variable }}, {% if %}, {% include &quot;name@label&quot; %}" error={violationOf(save.error, "template")}>
            <Textarea id="template" className="min-h-48 font-mono" {...form.register("template")} />
          </Field>
        )}
        <VariablesEditor form={form} chat={chat} />
        <fieldset className="grid grid-cols-2 gap-3 rounded-md border border-border p-3">
          <legend className="px-1 text-sm font-medium">Model config</legend>
          <Field id="model" label="Model" hint="Empty: the routing default" error={violationOf(save.error, "model_config.model")}>
            <Input id="model" {...form.register("model")} />
          </Field>
          <Field id="response-format" label="Response format">
            <Select id="response-format" {...form.register("responseFormat")}>
              <option value="RESPONSE_FORMAT_UNSPECIFIED">Default (text)</option>
              <option value="RESPONSE_FORMAT_TEXT">Text</option>
              <option value="RESPONSE_FORMAT_JSON_OBJECT">JSON object</option>
              <option value="RESPONSE_FORMAT_JSON_SCHEMA">JSON schema</option>
            </Select>
          </Field>
          <Field id="temperature" label="Temperature (0–2)" error={errors.temperature?.message ?? violationOf(save.error, "temperature")}>
            <Input
              id="temperature"
              inputMode="decimal"
              {...form.register("temperature", { validate: (v) => v === "" || (Number(v) >= 0 && Number(v) <= 2) || "0 to 2" })}
            />
          </Field>
          <Field id="top-p" label="Top p (0–1)" error={errors.topP?.message ?? violationOf(save.error, "top_p")}>
            <Input id="top-p" inputMode="decimal" {...form.register("topP", { validate: (v) => v === "" || (Number(v) >= 0 && Number(v) <= 1) || "0 to 1" })} />
          </Field>
          <Field id="max-output" label="Max output tokens" error={errors.maxOutputTokens?.message ?? violationOf(save.error, "max_output_tokens")}>
            <Input
              id="max-output"
              inputMode="numeric"
              {...form.register("maxOutputTokens", { validate: (v) => v === "" || /^[1-9]\d{0,6}$/.test(v) || "A whole number above 0" })}
            />
          </Field>
        </fieldset>
        <Field id="commit-message" label="What changed" error={violationOf(save.error, "commit_message")}>
          <Input id="commit-message" {...form.register("commitMessage")} />
        </Field>
        <ErrorNotice error={save.error} />
        <div className="flex gap-2">
          <Button type="submit" disabled={save.isPending || readOnly}>
            Save as version {(prompt.latestVersion ?? 0) + 1}
          </Button>
          <Button variant="secondary" onClick={() => form.reset(valuesOf(start))}>
            Discard changes
          </Button>
        </div>
        {readOnly ? <p className="text-sm text-muted-foreground">Shared prompts are read-only: override it to change it.</p> : null}
      </form>
      <Preview chat={chat} form={form} base={base} />
    </div>
  );
}
