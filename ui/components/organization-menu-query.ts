"use client";
import { useQuery } from "@tanstack/react-query";
import { api, unwrap } from "@/lib/api";
import { useSession } from "./providers";

/** The caller's organizations (ListOrganizations). */
export function useOrganizations() {
  const { session } = useSession();
  return useQuery({
    queryKey: ["organizations", session?.user.id],
    enabled: !!session,
    queryFn: () => unwrap(api().GET("/api/v1/identity/organizations")),
  });
}
