"use client";
import { Square } from "lucide-react";
import { useRef, useState } from "react";
import { type Answer, type ChatRole, fold, type StreamChunk } from "@/lib/ai";
import { streamPost } from "@/lib/sse";
import { formatMoney } from "@/lib/usage";
import { ErrorNotice } from "../errors";
import { Section } from "../identity/common";
import { Button } from "../ui/button";
import { Field, Input, Select, Textarea } from "../ui/field";
import { AI_TABS, useModels } from "./admin";

type Turn = { role: ChatRole; content: string; answer?: Answer };

/** A chat with any of the organization's models, streamed: the answer grows as its deltas
 * arrive over SSE through the edge, then shows the model and provider that answered, the
 * tokens, the cost and every attempt (fallbacks). Stop cancels the stream. */
export function Playground() {
  const models = useModels();
  const [model, setModel] = useState("");
  const [system, setSystem] = useState("");
  const [temperature, setTemperature] = useState("");
  const [maxTokens, setMaxTokens] = useState("");
  const [turns, setTurns] = useState<Turn[]>([]);
  const [input, setInput] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [streaming, setStreaming] = useState(false);
  const abort = useRef<AbortController | null>(null);
  const chosen = model || models.data?.[0]?.name || "";

  const send = async (event: React.FormEvent) => {
    event.preventDefault();
    const text = input.trim();
    if (!text || streaming) return;
    const history: Turn[] = [...turns, { role: "ROLE_USER", content: text }];
    const messages = [
      ...(system.trim() ? [{ role: "ROLE_SYSTEM" as const, content: system.trim() }] : []),
      ...history.map((t) => ({ role: t.role, content: t.content })),
    ];
    setTurns([...history, { role: "ROLE_ASSISTANT", content: "", answer: { text: "", done: false } }]);
    setInput("");
    setError(null);
    setStreaming(true);
    const controller = new AbortController();
    abort.current = controller;
    const update = (answer: Answer) =>
      setTurns((all) => {
        const next = all.slice();
        next[next.length - 1] = { role: "ROLE_ASSISTANT", content: answer.text, answer };
        return next;
      });
    let answer: Answer = { text: "", done: false };
    try {
      await streamPost<StreamChunk>(
        "/api/v1/ai/chat/completions:stream",
        {
          model: chosen,
          messages,
          options: {
            ...(temperature ? { temperature: Number(temperature) } : {}),
            ...(maxTokens ? { maxOutputTokens: Number(maxTokens) } : {}),
          },
        },
        (chunk) => {
          answer = fold(answer, chunk);
          update(answer);
        },
        controller.signal,
      );
    } catch (failure) {
      if (!controller.signal.aborted) {
        setError(failure);
        if (!answer.text) setTurns(history); // nothing came: the question can be asked again
      }
    } finally {
      setStreaming(false);
      abort.current = null;
    }
  };

  return (
    <Section title="AI" tabs={AI_TABS}>
      <div className="grid gap-6 lg:grid-cols-[minmax(0,3fr)_minmax(0,1fr)]">
        <div className="flex min-h-[28rem] flex-col gap-3">
          <ol aria-label="Conversation" className="flex flex-1 flex-col gap-3">
            {turns.map((turn, index) => (
              <li
                key={index}
                className={turn.role === "ROLE_USER" ? "self-end rounded-lg bg-primary px-3 py-2 text-primary-foreground" : "self-start rounded-lg bg-muted px-3 py-2"}
                data-role={turn.role === "ROLE_USER" ? "user" : "assistant"}
              >
                <p className="whitespace-pre-wrap text-sm" data-testid={turn.role === "ROLE_USER" ? undefined : "answer-text"}>
                  {turn.content || (turn.answer && !turn.answer.done ? "…" : "")}
                </p>
                {turn.answer?.done ? (
                  <p className="mt-1 text-xs text-muted-foreground" data-testid="answer-usage">
                    {turn.answer.model} via {turn.answer.provider} · {turn.answer.usage?.inputTokens ?? 0} in / {turn.answer.usage?.outputTokens ?? 0} out tokens ·{" "}
                    {formatMoney(turn.answer.usage?.cost)}
                    {turn.answer.cached ? " · from cache" : ""}
                    {turn.answer.finishReason ? ` · ${turn.answer.finishReason}` : ""}
                    {(turn.answer.attempts?.length ?? 0) > 1
                      ? ` · tried ${turn.answer.attempts?.map((a) => `${a.model}${a.error ? ` (${a.error})` : ""}`).join(" → ")}`
                      : ""}
                  </p>
                ) : null}
              </li>
            ))}
            {turns.length === 0 ? <li className="text-sm text-muted-foreground">Ask the model something.</li> : null}
          </ol>
          <div aria-live="polite" className="sr-only">
            {streaming ? "Answering…" : turns.at(-1)?.answer?.done ? "Answered" : ""}
          </div>
          <ErrorNotice error={error} />
          <form onSubmit={(e) => void send(e)} className="flex items-end gap-2">
            <div className="flex-1">
              <Field id="chat-input" label="Message">
                <Textarea
                  id="chat-input"
                  className="min-h-16"
                  value={input}
                  onChange={(e) => setInput(e.target.value)}
                  onKeyDown={(e) => {
                    if (e.key === "Enter" && !e.shiftKey) {
                      e.preventDefault();
                      e.currentTarget.form?.requestSubmit();
                    }
                  }}
                />
              </Field>
            </div>
            {streaming ? (
              <Button variant="secondary" onClick={() => abort.current?.abort()}>
                <Square className="h-4 w-4" aria-hidden /> Stop
              </Button>
            ) : (
              <Button type="submit" disabled={!chosen || !input.trim()}>
                Send
              </Button>
            )}
          </form>
        </div>
        <aside className="flex flex-col gap-3" aria-label="Settings">
          <ErrorNotice error={models.error} />
          <Field id="chat-model" label="Model">
            <Select id="chat-model" value={chosen} onChange={(e) => setModel(e.target.value)}>
              {(models.data ?? []).map((m) => (
                <option key={m.id} value={m.name}>
                  {m.name}
                </option>
              ))}
            </Select>
          </Field>
          {models.isSuccess && models.data.length === 0 ? <p className="text-sm text-muted-foreground">No models: an admin adds them under Providers and models.</p> : null}
          <Field id="chat-system" label="System message">
            <Textarea id="chat-system" value={system} onChange={(e) => setSystem(e.target.value)} />
          </Field>
          <Field id="chat-temperature" label="Temperature (0–2)">
            <Input id="chat-temperature" inputMode="decimal" value={temperature} onChange={(e) => setTemperature(e.target.value)} />
          </Field>
          <Field id="chat-max-tokens" label="Max output tokens">
            <Input id="chat-max-tokens" inputMode="numeric" value={maxTokens} onChange={(e) => setMaxTokens(e.target.value)} />
          </Field>
          <Button variant="secondary" onClick={() => setTurns([])} disabled={streaming}>
            New conversation
          </Button>
        </aside>
      </div>
    </Section>
  );
}
