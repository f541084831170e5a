/** The AI Service in the browser: types as answers carry them, the labels of provider kinds
 * and capabilities, and a streamed completion folded into one answer. */
import type { Schemas } from "./api";

type Named<T> = Exclude<T, number>;

export type ProviderKind = Exclude<Named<Schemas["coder.ai.v1.ProviderKind"]>, "PROVIDER_KIND_UNSPECIFIED">;
export type Capability = Exclude<Named<Schemas["coder.ai.v1.Capability"]>, "CAPABILITY_UNSPECIFIED">;
export type Provider = Omit<Schemas["coder.ai.v1.Provider"], "kind"> & { kind?: ProviderKind };
export type Model = Omit<Schemas["coder.ai.v1.Model"], "capabilities" | "pricing"> & {
  capabilities?: Capability[];
  pricing?: Omit<Schemas["coder.ai.v1.ModelPricing"], "source"> & { source?: Named<Schemas["coder.ai.v1.PriceSource"]> };
};
export type StreamChunk = Schemas["coder.ai.v1.StreamChatCompletionResponse"];
export type Attempt = Schemas["coder.ai.v1.Attempt"];
export type ChatRole = "ROLE_SYSTEM" | "ROLE_USER" | "ROLE_ASSISTANT";

export const PROVIDER_KINDS: { value: ProviderKind; label: string }[] = [
  { value: "PROVIDER_KIND_OPENAI", label: "OpenAI" },
  { value: "PROVIDER_KIND_AZURE_OPENAI", label: "Azure OpenAI" },
  { value: "PROVIDER_KIND_OPENAI_COMPATIBLE", label: "OpenAI-compatible (Ollama, vLLM, llama.cpp)" },
  { value: "PROVIDER_KIND_ANTHROPIC", label: "Anthropic" },
];

export const CAPABILITIES: { value: Capability; label: string }[] = [
  { value: "CAPABILITY_CHAT", label: "Chat" },
  { value: "CAPABILITY_TOOLS", label: "Tools" },
  { value: "CAPABILITY_JSON_MODE", label: "JSON mode" },
  { value: "CAPABILITY_VISION", label: "Vision" },
  { value: "CAPABILITY_EMBEDDINGS", label: "Embeddings" },
];

export function kindLabel(kind: ProviderKind | undefined): string {
  return PROVIDER_KINDS.find((k) => k.value === kind)?.label.split(" (")[0] ?? "—";
}

export type Answer = {
  text: string;
  done: boolean;
  model?: string;
  provider?: string;
  finishReason?: string;
  usage?: StreamChunk["usage"];
  attempts?: Attempt[];
  cached?: boolean;
};

/** One chunk of the stream folded into the answer so far: deltas append, the final chunk
 * brings the finish reason, usage, cost and attempts. */
export function fold(answer: Answer, chunk: StreamChunk): Answer {
  return {
    ...answer,
    text: answer.text + (chunk.delta ?? ""),
    done: answer.done || chunk.done === true,
    model: chunk.model || answer.model,
    provider: chunk.provider || answer.provider,
    finishReason: chunk.finishReason || answer.finishReason,
    usage: chunk.usage ?? answer.usage,
    attempts: chunk.attempts?.length ? chunk.attempts : answer.attempts,
    cached: chunk.cached ?? answer.cached,
  };
}
