"use client";
import { useMutation } from "@tanstack/react-query";
import { useState } from "react";
import { api, unwrap } from "@/lib/api";
import { contentText, schemaFields, type SchemaField, type Tool, toArguments } from "@/lib/mcp";
import { ErrorNotice } from "../errors";
import { Button } from "../ui/button";
import { Field, Input, Select, Textarea } from "../ui/field";

function Control({ field, value, onChange }: { field: SchemaField; value: string; onChange: (value: string) => void }) {
  const id = `arg-${field.name}`;
  if (field.kind === "enum" || field.kind === "boolean") {
    const options = field.kind === "boolean" ? ["true", "false"] : field.options;
    return (
      <Select id={id} value={value} onChange={(e) => onChange(e.target.value)}>
        <option value="">{field.required ? "Choose…" : "Not set"}</option>
        {options.map((o) => (
          <option key={o} value={o}>
            {o}
          </option>
        ))}
      </Select>
    );
  }
  if (field.kind === "list" || field.kind === "json") {
    return <Textarea id={id} className="font-mono" value={value} onChange={(e) => onChange(e.target.value)} />;
  }
  return (
    <Input
      id={id}
      type={field.kind === "string" ? "text" : "number"}
      step={field.kind === "integer" ? 1 : "any"}
      value={value}
      onChange={(e) => onChange(e.target.value)}
    />
  );
}

const HINTS: Partial<Record<SchemaField["kind"], string>> = { list: "One item a line", json: "JSON" };

/** A tool's form, generated from its input JSON Schema; the call goes through the gateway
 * (CallTool: audited, allow-listed, rate limited) and its structured result is shown. */
export default function TryTool({ tool }: { tool: Tool }) {
  const fields = schemaFields(tool.inputSchema);
  const [values, setValues] = useState<Record<string, string>>(() => Object.fromEntries(fields.map((f) => [f.name, f.initial])));
  const [errors, setErrors] = useState<Record<string, string>>({});
  const call = useMutation({
    mutationFn: (args: Record<string, unknown>) =>
      unwrap(api().POST("/api/v1/mcp/tools/{name}:call", { params: { path: { name: tool.name ?? "" } }, body: { arguments: args } })),
  });
  const result = call.data;
  return (
    <div className="flex flex-col gap-4">
      <div>
        <h2 className="font-mono text-lg font-medium">{tool.name}</h2>
        {tool.title ? <p className="text-sm font-medium">{tool.title}</p> : null}
        <p className="text-sm text-muted-foreground">{tool.description}</p>
        <p className="text-xs text-muted-foreground">{tool.readOnly ? "Only reads" : "May change things"}</p>
      </div>
      <form
        aria-label={`Try ${tool.name}`}
        className="flex max-w-2xl flex-col gap-3"
        onSubmit={(event) => {
          event.preventDefault();
          const args = toArguments(fields, values);
          if (!args.ok) {
            setErrors(args.errors);
            return;
          }
          setErrors({});
          call.mutate(args.value);
        }}
        noValidate
      >
        {fields.length === 0 ? <p className="text-sm text-muted-foreground">The tool takes no arguments.</p> : null}
        {fields.map((field) => (
          <Field
            key={field.name}
            id={`arg-${field.name}`}
            label={`${field.label}${field.required ? " (required)" : ""}`}
            hint={[field.description, HINTS[field.kind]].filter(Boolean).join(" · ")}
            error={errors[field.name]}
          >
            <Control field={field} value={values[field.name] ?? ""} onChange={(value) => setValues({ ...values, [field.name]: value })} />
          </Field>
        ))}
        <div>
          <Button type="submit" disabled={call.isPending}>
            Call {tool.name}
          </Button>
        </div>
      </form>
      <ErrorNotice error={call.error} />
      {result ? (
        <section aria-label="Result" className="flex flex-col gap-2">
          <h3 className="font-medium">
            {result.isError ? "The tool answered an error" : "Result"}
            {result.execution ? (
              <span className="ml-2 text-xs font-normal text-muted-foreground">
                execution {result.execution.id} · {result.execution.durationMs} ms
              </span>
            ) : null}
          </h3>
          {result.structuredContent && Object.keys(result.structuredContent).length ? (
            <>
              <h4 className="text-sm text-muted-foreground">Structured content</h4>
              <pre data-testid="structured-result" className="max-h-96 overflow-auto rounded-md bg-muted p-3 text-xs">
                {JSON.stringify(result.structuredContent, null, 2)}
              </pre>
            </>
          ) : null}
          {contentText(result.content) ? (
            <>
              <h4 className="text-sm text-muted-foreground">Content</h4>
              <pre data-testid="content-result" className={result.isError ? "whitespace-pre-wrap text-sm text-danger" : "whitespace-pre-wrap text-sm"}>
                {contentText(result.content)}
              </pre>
            </>
          ) : null}
        </section>
      ) : null}
      <details className="text-sm">
        <summary className="cursor-pointer">Input schema</summary>
        <pre className="overflow-auto rounded-md bg-muted p-3 text-xs">{JSON.stringify(tool.inputSchema ?? {}, null, 2)}</pre>
      </details>
    </div>
  );
}
