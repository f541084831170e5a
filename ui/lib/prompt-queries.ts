/** The queries of one prompt's pages: the prompt with its labels, its versions newest first. */
import { type QueryClient, useQuery } from "@tanstack/react-query";
import { api, unwrap } from "./api";
import type { Prompt, PromptVersion } from "./prompts";

export const promptKey = (promptId: string) => ["prompt", promptId] as const;
export const versionsKey = (promptId: string) => ["prompt-versions", promptId] as const;

/** Every prompt of the organization in one folder (or all), pages of 1000 until the last. */
export async function allPrompts(folder: string): Promise<Prompt[]> {
  const prompts: Prompt[] = [];
  let pageToken = "";
  do {
    const page = await unwrap(api().GET("/api/v1/prompt/prompts", { params: { query: { folder, pageSize: 1000, pageToken } } }));
    prompts.push(...((page.prompts ?? []) as Prompt[]));
    pageToken = page.nextPageToken ?? "";
  } while (pageToken);
  return prompts;
}

export function usePrompt(promptId: string) {
  return useQuery({
    queryKey: promptKey(promptId),
    queryFn: () =>
      unwrap(api().GET("/api/v1/prompt/prompts/{prompt_id}", { params: { path: { prompt_id: promptId } } })).then(
        (reply) => reply.prompt as Prompt,
      ),
  });
}

/** Every version of a prompt, newest first (pages of 1000 until the last). */
export function useVersions(promptId: string) {
  return useQuery({
    queryKey: versionsKey(promptId),
    queryFn: async () => {
      const versions: PromptVersion[] = [];
      let pageToken = "";
      do {
        const page = await unwrap(
          api().GET("/api/v1/prompt/prompts/{prompt_id}/versions", {
            params: { path: { prompt_id: promptId }, query: { pageSize: 1000, pageToken } },
          }),
        );
        versions.push(...((page.versions ?? []) as PromptVersion[]));
        pageToken = page.nextPageToken ?? "";
      } while (pageToken);
      return versions;
    },
  });
}

/** After a write that changed the prompt (a version, a label): both queries refetch, and the
 * answer's prompt shows at once when the write returned one. */
export function promptChanged(client: QueryClient, promptId: string, prompt?: Prompt): void {
  if (prompt) client.setQueryData(promptKey(promptId), prompt);
  void client.invalidateQueries({ queryKey: promptKey(promptId) });
  void client.invalidateQueries({ queryKey: versionsKey(promptId) });
  void client.invalidateQueries({ queryKey: ["prompts"] });
}
