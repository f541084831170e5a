"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Plus, Trash2 } from "lucide-react";
import { useState } from "react";
import { useFieldArray, useForm } from "react-hook-form";
import { api, unwrap } from "@/lib/api";
import { promptChanged } from "@/lib/prompt-queries";
import { type Experiment, EXPERIMENT_STATES, movableLabels, percent, type Prompt, type PromptVersion, type VariantResult } from "@/lib/prompts";
import { ErrorNotice, toast, violationOf } from "../errors";
import { Button } from "../ui/button";
import { Field, Input, Select, Textarea } from "../ui/field";

type NewExperiment = { name: string; label: string; description: string; variants: { name: string; version: number; weight: number }[] };

const experimentsKey = (promptId: string) => ["experiments", promptId] as const;

function CreateExperiment({ prompt, versions }: { prompt: Prompt; versions: PromptVersion[] }) {
  const client = useQueryClient();
  const labels = movableLabels(prompt);
  const form = useForm<NewExperiment>({
    defaultValues: {
      name: "",
      label: labels[0]?.name ?? "production",
      description: "",
      variants: [
        { name: "control", version: versions[1]?.version ?? versions[0]?.version ?? 1, weight: 1 },
        { name: "b", version: versions[0]?.version ?? 1, weight: 1 },
      ],
    },
  });
  const variants = useFieldArray({ control: form.control, name: "variants" });
  const create = useMutation({
    mutationFn: (values: NewExperiment) =>
      unwrap(
        api().POST("/api/v1/prompt/prompts/{prompt_id}/experiments", {
          params: { path: { prompt_id: prompt.id ?? "" } },
          body: {
            name: values.name,
            label: values.label,
            description: values.description,
            variants: values.variants.map((v) => ({ name: v.name, version: Number(v.version), weight: Number(v.weight) })),
          },
        }),
      ),
    onSuccess: (reply) => {
      toast.info(`Created experiment ${reply.experiment?.name}`);
      void client.invalidateQueries({ queryKey: experimentsKey(prompt.id ?? "") });
      form.reset();
    },
  });
  return (
    <form onSubmit={form.handleSubmit((v) => create.mutate(v))} className="flex flex-col gap-3 rounded-md border border-border p-3" noValidate aria-label="New experiment">
      <h2 className="text-sm font-medium">New experiment</h2>
      <div className="grid grid-cols-2 gap-3">
        <Field id="experiment-name" label="Name" error={form.formState.errors.name?.message ?? violationOf(create.error, "name")}>
          <Input id="experiment-name" {...form.register("name", { required: "Name the experiment" })} />
        </Field>
        <Field id="experiment-label" label="Label it splits" error={violationOf(create.error, "label")}>
          <Input id="experiment-label" list="experiment-labels" {...form.register("label", { required: "Which label" })} />
        </Field>
        <datalist id="experiment-labels">
          {labels.map((l) => (
            <option key={l.name} value={l.name} />
          ))}
        </datalist>
      </div>
      <Field id="experiment-description" label="What it tests">
        <Textarea id="experiment-description" className="min-h-12" {...form.register("description")} />
      </Field>
      <fieldset className="flex flex-col gap-2">
        <legend className="text-sm font-medium">Variants</legend>
        {variants.fields.map((row, index) => (
          <div key={row.id} className="flex items-end gap-2">
            <Field id={`variant-name-${index}`} label="Variant">
              <Input id={`variant-name-${index}`} {...form.register(`variants.${index}.name`)} />
            </Field>
            <Field id={`variant-version-${index}`} label="Version">
              <Select id={`variant-version-${index}`} {...form.register(`variants.${index}.version`, { valueAsNumber: true })}>
                {versions.map((v) => (
                  <option key={v.version} value={v.version}>
                    v{v.version}
                  </option>
                ))}
              </Select>
            </Field>
            <Field id={`variant-weight-${index}`} label="Weight">
              <Input id={`variant-weight-${index}`} type="number" min={1} max={10000} {...form.register(`variants.${index}.weight`, { valueAsNumber: true })} />
            </Field>
            <Button variant="ghost" size="icon" aria-label={`Remove variant ${index + 1}`} onClick={() => variants.remove(index)}>
              <Trash2 className="h-4 w-4" aria-hidden />
            </Button>
          </div>
        ))}
        <Button
          variant="secondary"
          size="sm"
          className="self-start"
          disabled={variants.fields.length >= 10}
          onClick={() => variants.append({ name: `v${variants.fields.length + 1}`, version: versions[0]?.version ?? 1, weight: 1 })}
        >
          <Plus className="h-4 w-4" aria-hidden /> Add variant
        </Button>
      </fieldset>
      <ErrorNotice error={create.error} />
      <Button type="submit" className="self-start" disabled={create.isPending}>
        Create experiment
      </Button>
    </form>
  );
}

/** One variant's success rate with its Wilson interval drawn on a 0–100 % track. */
function Interval({ result }: { result: VariantResult }) {
  const lower = (result.intervalLower ?? 0) * 100;
  const upper = (result.intervalUpper ?? 0) * 100;
  const rate = (result.successRate ?? 0) * 100;
  return (
    <svg viewBox="0 0 100 10" className="h-3 w-40" role="img" aria-label={`${rate.toFixed(1)} %, interval ${lower.toFixed(1)} to ${upper.toFixed(1)} %`}>
      <rect x="0" y="4" width="100" height="2" className="fill-muted" />
      <rect x={lower} y="2" width={Math.max(0.5, upper - lower)} height="6" className="fill-primary/40" />
      <rect x={Math.max(0, rate - 0.75)} y="0" width="1.5" height="10" className="fill-primary" />
    </svg>
  );
}

function Results({ prompt, experiment }: { prompt: Prompt; experiment: Experiment }) {
  const client = useQueryClient();
  const [key, setKey] = useState("");
  const resultsKey = ["experiment-results", experiment.id];
  const results = useQuery({
    queryKey: resultsKey,
    queryFn: () =>
      unwrap(
        api().GET("/api/v1/prompt/prompts/{prompt_id}/experiments/{experiment_id}/results", {
          params: { path: { prompt_id: prompt.id ?? "", experiment_id: experiment.id ?? "" } },
        }),
      ),
  });
  const record = useMutation({
    mutationFn: (success: boolean) =>
      unwrap(
        api().POST("/api/v1/prompt/prompts/{prompt_id}/experiments/{experiment_id}/outcomes", {
          params: { path: { prompt_id: prompt.id ?? "", experiment_id: experiment.id ?? "" } },
          body: { bucketingKey: key, success },
        }),
      ),
    onSuccess: (reply) => {
      toast.info(`Recorded for variant ${reply.variant} (v${reply.version})`);
      void client.invalidateQueries({ queryKey: resultsKey });
    },
  });
  return (
    <div className="flex flex-col gap-3">
      <ErrorNotice error={results.error} />
      <table className="w-full text-sm">
        <caption className="sr-only">Results of {experiment.name}</caption>
        <thead>
          <tr className="border-b border-border text-left">
            <th className="p-1">Variant</th>
            <th className="p-1">Version</th>
            <th className="p-1">Outcomes</th>
            <th className="p-1">Successes</th>
            <th className="p-1">Rate</th>
            <th className="p-1">Wilson interval ({Math.round((results.data?.confidence ?? 0.95) * 100)} %)</th>
          </tr>
        </thead>
        <tbody>
          {(results.data?.results ?? []).map((result) => (
            <tr key={result.variant} className="border-b border-border">
              <td className="p-1 font-medium">{result.variant}</td>
              <td className="p-1">v{result.version}</td>
              <td className="p-1">{result.outcomes ?? 0}</td>
              <td className="p-1">{result.successes ?? 0}</td>
              <td className="p-1">{percent(result.successRate)}</td>
              <td className="flex items-center gap-2 p-1">
                <Interval result={result} />
                <span className="text-xs text-muted-foreground">
                  {percent(result.intervalLower)} – {percent(result.intervalUpper)}
                </span>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {experiment.state === "EXPERIMENT_STATE_RUNNING" ? (
        <div className="flex items-end gap-2">
          <div className="w-64">
            <Field id={`outcome-key-${experiment.id}`} label="Record an outcome for key" error={violationOf(record.error, "bucketing_key")}>
              <Input id={`outcome-key-${experiment.id}`} value={key} onChange={(e) => setKey(e.target.value)} placeholder="a user or conversation id" />
            </Field>
          </div>
          <Button size="sm" variant="secondary" disabled={!key || record.isPending} onClick={() => record.mutate(true)}>
            Success
          </Button>
          <Button size="sm" variant="secondary" disabled={!key || record.isPending} onClick={() => record.mutate(false)}>
            Failure
          </Button>
        </div>
      ) : null}
      <ErrorNotice error={record.error} />
    </div>
  );
}

function ExperimentCard({ prompt, experiment }: { prompt: Prompt; experiment: Experiment }) {
  const client = useQueryClient();
  const path = { prompt_id: prompt.id ?? "", experiment_id: experiment.id ?? "" };
  const done = (message: string) => () => {
    toast.info(message);
    void client.invalidateQueries({ queryKey: experimentsKey(prompt.id ?? "") });
    void client.invalidateQueries({ queryKey: ["experiment-results", experiment.id] });
    promptChanged(client, prompt.id ?? "");
  };
  const start = useMutation({
    mutationFn: () => unwrap(api().POST("/api/v1/prompt/prompts/{prompt_id}/experiments/{experiment_id}:start", { params: { path }, body: {} })),
    onSuccess: done(`Started ${experiment.name}`),
  });
  const stop = useMutation({
    mutationFn: () => unwrap(api().POST("/api/v1/prompt/prompts/{prompt_id}/experiments/{experiment_id}:stop", { params: { path }, body: {} })),
    onSuccess: done(`Stopped ${experiment.name}`),
  });
  const remove = useMutation({
    mutationFn: () => unwrap(api().DELETE("/api/v1/prompt/prompts/{prompt_id}/experiments/{experiment_id}", { params: { path } })),
    onSuccess: done(`Deleted ${experiment.name}`),
  });
  const state = experiment.state ?? "EXPERIMENT_STATE_UNSPECIFIED";
  return (
    <article aria-label={`Experiment ${experiment.name}`} className="flex flex-col gap-3 rounded-md border border-border p-3">
      <div className="flex flex-wrap items-center gap-3">
        <h3 className="font-medium">{experiment.name}</h3>
        <span className="rounded-full border border-border px-2 py-0.5 text-xs" data-testid="experiment-state">
          {EXPERIMENT_STATES[state]}
        </span>
        <span className="text-sm text-muted-foreground">
          splits {experiment.label}: {(experiment.variants ?? []).map((v) => `${v.name} v${v.version} ×${v.weight}`).join(", ")}
        </span>
        <div className="ml-auto flex gap-1">
          {state === "EXPERIMENT_STATE_DRAFT" ? (
            <Button size="sm" onClick={() => start.mutate()} disabled={start.isPending}>
              Start
            </Button>
          ) : null}
          {state === "EXPERIMENT_STATE_RUNNING" ? (
            <Button size="sm" variant="secondary" onClick={() => stop.mutate()} disabled={stop.isPending}>
              Stop
            </Button>
          ) : null}
          {state !== "EXPERIMENT_STATE_RUNNING" ? (
            <Button size="sm" variant="ghost" onClick={() => remove.mutate()} disabled={remove.isPending}>
              Delete
            </Button>
          ) : null}
        </div>
      </div>
      {experiment.description ? <p className="text-sm text-muted-foreground">{experiment.description}</p> : null}
      <ErrorNotice error={start.error ?? stop.error ?? remove.error} />
      {state !== "EXPERIMENT_STATE_DRAFT" ? <Results prompt={prompt} experiment={experiment} /> : null}
    </article>
  );
}

/** A/B experiments on the prompt's labels: create, start, stop, delete, and results per variant
 * with Wilson intervals. */
export default function Experiments({ prompt, versions }: { prompt: Prompt; versions: PromptVersion[] }) {
  const experiments = useQuery({
    queryKey: experimentsKey(prompt.id ?? ""),
    queryFn: () =>
      unwrap(
        api().GET("/api/v1/prompt/prompts/{prompt_id}/experiments", {
          params: { path: { prompt_id: prompt.id ?? "" }, query: { pageSize: 100 } },
        }),
      ),
  });
  const list = (experiments.data?.experiments ?? []) as Experiment[];
  return (
    <div className="flex flex-col gap-4">
      <ErrorNotice error={experiments.error} />
      {list.map((experiment) => (
        <ExperimentCard key={experiment.id} prompt={prompt} experiment={experiment} />
      ))}
      {experiments.isSuccess && list.length === 0 ? <p className="text-sm text-muted-foreground">No experiments yet.</p> : null}
      {!prompt.shared ? <CreateExperiment prompt={prompt} versions={versions} /> : null}
    </div>
  );
}
