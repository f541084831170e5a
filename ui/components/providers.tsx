"use client";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { createContext, type ReactNode, useContext, useEffect, useState, useSyncExternalStore } from "react";
import { configureApi } from "@/lib/api";
import { isApiError } from "@/lib/errors";
import { currentSession, onSession, refresh, type Session } from "@/lib/session";
import { Toaster } from "./errors";

type SessionState = { session: Session | null; ready: boolean };
const SessionContext = createContext<SessionState>({ session: null, ready: false });

export function useSession(): SessionState {
  return useContext(SessionContext);
}

let booted = false;
let bootDone = false;
const bootListeners = new Set<() => void>();

/** On the first render after a page load: trade the refresh cookie for an access token. */
function boot(): void {
  if (booted) return;
  booted = true;
  void refresh()
    .catch(() => null)
    .finally(() => {
      bootDone = true;
      for (const listener of bootListeners) listener();
    });
}

function SessionProvider({ children }: { children: ReactNode }) {
  const session = useSyncExternalStore(onSession, currentSession, () => null);
  const ready = useSyncExternalStore(
    (callback) => {
      bootListeners.add(callback);
      return () => bootListeners.delete(callback);
    },
    () => bootDone,
    () => false,
  );
  useEffect(boot, []);
  return <SessionContext.Provider value={{ session, ready }}>{children}</SessionContext.Provider>;
}

export function Providers({ apiUrl, children }: { apiUrl: string; children: ReactNode }) {
  configureApi(apiUrl);
  const [client] = useState(
    () =>
      new QueryClient({
        defaultOptions: {
          queries: {
            staleTime: 30_000,
            retry: (count, error) => !(isApiError(error) && error.status < 500) && count < 2,
          },
        },
      }),
  );
  return (
    <QueryClientProvider client={client}>
      <SessionProvider>
        {children}
        <Toaster />
      </SessionProvider>
    </QueryClientProvider>
  );
}
