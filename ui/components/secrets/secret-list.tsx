"use client";
import { useInfiniteQuery } from "@tanstack/react-query";
import { KeyRound } from "lucide-react";
import dynamic from "next/dynamic";
import Link from "next/link";
import { usePathname, useRouter, useSearchParams } from "next/navigation";
import { useEffect, useState } from "react";
import { api, unwrap } from "@/lib/api";
import { MASK, scopeName, type Secret, type SecretScope, type SecretType, TYPE_OPTIONS, typeLabel } from "@/lib/secrets";
import { ErrorNotice } from "../errors";
import { isAdmin } from "../identity/common";
import { useSession } from "../providers";
import { Button } from "../ui/button";
import { ScopeOptions } from "./scope-options";
import { Field, Input, Select } from "../ui/field";

// The dialogs (Radix, their forms) load when first opened.
const CreateSecret = dynamic(() => import("./create-secret"), { ssr: false });
const ImportSecrets = dynamic(() => import("./import-secrets"), { ssr: false });
const ExportSecrets = dynamic(() => import("./export-secrets"), { ssr: false });
const Keys = dynamic(() => import("./keys"), { ssr: false });

function scopeText(secret: Secret): string {
  const label = scopeName(secret.scope);
  return secret.scopeId ? `${label} ${secret.scopeId.slice(-8)}` : label;
}

/** The secrets the caller may see, metadata only: values are masked and shown only on the
 * secret's page, revealed with a reason. */
export function SecretList() {
  const { session } = useSession();
  const params = useSearchParams();
  const router = useRouter();
  const pathname = usePathname();
  const dialog = params.get("dialog");
  const [search, setSearch] = useState("");
  const [query, setQuery] = useState("");
  const [scope, setScope] = useState<SecretScope | "">("");
  const [type, setType] = useState<SecretType | "">("");
  const [deleted, setDeleted] = useState(false);
  useEffect(() => {
    const timer = setTimeout(() => setQuery(search.trim()), 250);
    return () => clearTimeout(timer);
  }, [search]);
  const secrets = useInfiniteQuery({
    queryKey: ["secrets", session?.organizationId, query, scope, type, deleted],
    initialPageParam: "",
    queryFn: ({ pageParam }) =>
      unwrap(
        api().GET("/api/v1/secret/secrets", {
          params: {
            query: {
              pageSize: 50,
              pageToken: pageParam,
              namePrefix: query,
              ...(scope ? { scope } : {}),
              ...(type ? { type } : {}),
              showDeleted: deleted,
            },
          },
        }),
      ),
    getNextPageParam: (last) => last.nextPageToken || undefined,
  });
  const rows = (secrets.data?.pages.flatMap((p) => p.secrets ?? []) ?? []) as Secret[];
  const open = (name: string | null) => router.replace(name ? `${pathname}?dialog=${name}` : pathname);
  return (
    <div className="flex flex-col gap-4">
      <div className="flex items-center justify-between">
        <h1 className="text-2xl font-semibold">Secrets</h1>
        <div className="flex gap-2">
          {isAdmin(session?.role) ? (
            <>
              <Button variant="secondary" onClick={() => open("keys")}>
                Keys
              </Button>
              <Button variant="secondary" onClick={() => open("export")}>
                Export
              </Button>
              <Button variant="secondary" onClick={() => open("import")}>
                Import
              </Button>
            </>
          ) : null}
          <Button onClick={() => open("new")}>New secret</Button>
        </div>
      </div>
      <div className="flex flex-wrap items-end gap-3">
        <div className="w-64">
          <Field id="secret-search" label="Name starts with">
            <Input id="secret-search" type="search" value={search} onChange={(e) => setSearch(e.target.value)} />
          </Field>
        </div>
        <div className="w-48">
          <Field id="secret-filter-scope" label="Scope">
            <Select id="secret-filter-scope" value={scope} onChange={(e) => setScope(e.target.value as SecretScope | "")}>
              <option value="">Every scope</option>
              <ScopeOptions />
            </Select>
          </Field>
        </div>
        <div className="w-56">
          <Field id="secret-filter-type" label="Type">
            <Select id="secret-filter-type" value={type} onChange={(e) => setType(e.target.value as SecretType | "")}>
              <option value="">Every type</option>
              {TYPE_OPTIONS.map((t) => (
                <option key={t.value} value={t.value}>
                  {t.label}
                </option>
              ))}
            </Select>
          </Field>
        </div>
        <label className="flex items-center gap-2 pb-2 text-sm">
          <input type="checkbox" checked={deleted} onChange={(e) => setDeleted(e.target.checked)} /> Deleted (restorable)
        </label>
      </div>
      <ErrorNotice error={secrets.error} />
      <table className="w-full text-sm">
        <caption className="sr-only">Secrets</caption>
        <thead>
          <tr className="border-b border-border text-left">
            <th className="p-2">Name</th>
            <th className="p-2">Value</th>
            <th className="p-2">Type</th>
            <th className="p-2">Scope</th>
            <th className="p-2">Version</th>
            <th className="p-2">{deleted ? "Purged" : "Expires"}</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((secret) => (
            <tr key={secret.id} className="border-b border-border hover:bg-accent" data-secret={secret.name}>
              <td className="p-2">
                <Link href={`/secrets/${secret.id}`} className="flex items-center gap-2 font-mono font-medium hover:underline">
                  <KeyRound className="h-4 w-4" aria-hidden />
                  {secret.name}
                </Link>
                {secret.description ? <span className="block text-xs text-muted-foreground">{secret.description}</span> : null}
              </td>
              <td className="p-2 font-mono text-muted-foreground" aria-label="value hidden">
                {MASK}
              </td>
              <td className="p-2">{typeLabel(secret.type)}</td>
              <td className="p-2">{scopeText(secret)}</td>
              <td className="p-2">v{secret.currentVersion}</td>
              <td className="p-2 text-muted-foreground">
                {deleted
                  ? secret.purgeTime
                    ? new Date(secret.purgeTime).toLocaleDateString()
                    : ""
                  : secret.expireTime
                    ? new Date(secret.expireTime).toLocaleDateString()
                    : "never"}
              </td>
            </tr>
          ))}
          {secrets.isSuccess && rows.length === 0 ? (
            <tr>
              <td colSpan={6} className="p-3 text-sm text-muted-foreground">
                No secrets here.
              </td>
            </tr>
          ) : null}
        </tbody>
      </table>
      {secrets.hasNextPage ? (
        <Button variant="secondary" onClick={() => void secrets.fetchNextPage()} disabled={secrets.isFetchingNextPage}>
          Load more
        </Button>
      ) : null}
      {dialog === "new" ? <CreateSecret onClose={() => open(null)} /> : null}
      {dialog === "import" ? <ImportSecrets onClose={() => open(null)} /> : null}
      {dialog === "export" ? <ExportSecrets onClose={() => open(null)} /> : null}
      {dialog === "keys" ? <Keys onClose={() => open(null)} /> : null}
    </div>
  );
}
