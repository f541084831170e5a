"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import dynamic from "next/dynamic";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useState } from "react";
import { api, unwrap } from "@/lib/api";
import {
  ACTIONS,
  type AccessRecord,
  buildValue,
  GRANTEES,
  type GranteeType,
  MASK,
  scopeName,
  type Secret,
  type SecretAction,
  type SecretGrant,
  type SecretType,
  type SecretVersion,
  typeLabel,
} from "@/lib/secrets";
import { ErrorNotice, toast, violationOf } from "../errors";
import { isAdmin, SYSTEM_ROLES } from "../identity/common";
import { useSession } from "../providers";
import { Button } from "../ui/button";
import { Field, Input, Select } from "../ui/field";
import { useMemberNames } from "../usage/common";
import { ValueFields } from "./value-fields";

// The dialogs load when first opened.
const Reveal = dynamic(() => import("./reveal"), { ssr: false });
const MoveSecret = dynamic(() => import("./move-secret"), { ssr: false });
const ExportSecrets = dynamic(() => import("./export-secrets"), { ssr: false });

const secretKey = (id: string) => ["secret", id] as const;

function when(time: string | undefined): string {
  return time ? new Date(time).toLocaleString() : "—";
}

function NewVersion({ secret, onDone }: { secret: Secret; onDone: () => void }) {
  const client = useQueryClient();
  const [entries, setEntries] = useState<Record<string, string>>({});
  const [errors, setErrors] = useState<Record<string, string>>({});
  const add = useMutation({
    mutationFn: (value: Record<string, unknown>) =>
      unwrap(
        api().POST("/api/v1/secret/secrets/{secret_id}/versions", {
          params: { path: { secret_id: secret.id ?? "" } },
          // Check-and-set: refused if someone wrote a version since this page read the secret.
          body: { value: value as never, expectedVersion: secret.currentVersion },
        }),
      ),
    onSuccess: (reply) => {
      setEntries({});
      toast.info(`Stored version ${reply.version?.version}`);
      void client.invalidateQueries({ queryKey: secretKey(secret.id ?? "") });
      void client.invalidateQueries({ queryKey: ["secrets"] });
      onDone();
    },
  });
  return (
    <form
      className="flex flex-col gap-3 rounded-md border border-border p-3"
      aria-label="New version"
      noValidate
      autoComplete="off"
      onSubmit={(e) => {
        e.preventDefault();
        const built = buildValue(secret.type as SecretType, entries);
        setErrors(built.ok ? {} : built.errors);
        if (built.ok) add.mutate(built.value);
      }}
    >
      <ValueFields type={secret.type as SecretType} prefix="version-value" entries={entries} errors={errors} apiError={add.error} onChange={setEntries} />
      <ErrorNotice error={add.error} />
      <div className="flex gap-2">
        <Button type="submit" disabled={add.isPending}>
          Store as version {(secret.currentVersion ?? 0) + 1}
        </Button>
        <Button variant="secondary" onClick={onDone}>
          Cancel
        </Button>
      </div>
    </form>
  );
}

function Versions({ secret, onReveal }: { secret: Secret; onReveal: (version: number) => void }) {
  const client = useQueryClient();
  const names = useMemberNames();
  const versions = useQuery({
    queryKey: [...secretKey(secret.id ?? ""), "versions"],
    queryFn: () =>
      unwrap(api().GET("/api/v1/secret/secrets/{secret_id}/versions", { params: { path: { secret_id: secret.id ?? "" } } })).then(
        (r) => (r.versions ?? []) as SecretVersion[],
      ),
  });
  const rollback = useMutation({
    mutationFn: (version: number) =>
      unwrap(
        api().POST("/api/v1/secret/secrets/{secret_id}:rollback", {
          params: { path: { secret_id: secret.id ?? "" } },
          body: { version, expectedVersion: secret.currentVersion },
        }),
      ),
    onSuccess: (reply) => {
      toast.info(`Version ${reply.version?.version} restores version ${reply.version?.restoredFrom}`);
      void client.invalidateQueries({ queryKey: secretKey(secret.id ?? "") });
    },
  });
  return (
    <section aria-label="Versions" className="flex flex-col gap-2">
      <h2 className="text-lg font-semibold">Versions</h2>
      <p className="text-xs text-muted-foreground">The ten newest are kept. A rollback writes the older value as a new version.</p>
      <ErrorNotice error={versions.error ?? rollback.error} />
      <table className="w-full text-sm">
        <caption className="sr-only">Versions</caption>
        <thead>
          <tr className="border-b border-border text-left">
            <th className="p-2">Version</th>
            <th className="p-2">Written</th>
            <th className="p-2">By</th>
            <th className="p-2">Key</th>
            <th className="p-2">
              <span className="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {(versions.data ?? []).map((v) => (
            <tr key={v.version} className="border-b border-border" data-version={v.version}>
              <td className="p-2 font-medium">
                v{v.version}
                {v.current ? " (current)" : ""}
                {v.restoredFrom ? <span className="block text-xs text-muted-foreground">restores v{v.restoredFrom}</span> : null}
              </td>
              <td className="p-2">{when(v.createTime)}</td>
              <td className="p-2">{names.get(v.createdBy ?? "") ?? v.createdBy?.slice(-8)}</td>
              <td className="p-2 font-mono text-xs">{v.keyId}</td>
              <td className="flex justify-end gap-1 p-2">
                <Button size="sm" variant="secondary" onClick={() => onReveal(v.version ?? 0)}>
                  Reveal v{v.version}
                </Button>
                {!v.current && secret.state !== "SECRET_STATE_DELETED" ? (
                  <Button size="sm" variant="ghost" disabled={rollback.isPending} onClick={() => rollback.mutate(v.version ?? 0)}>
                    Roll back to v{v.version}
                  </Button>
                ) : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function Grants({ secret }: { secret: Secret }) {
  const client = useQueryClient();
  const names = useMemberNames();
  const key = [...secretKey(secret.id ?? ""), "grants"];
  const grants = useQuery({
    queryKey: key,
    queryFn: () =>
      unwrap(api().GET("/api/v1/secret/secrets/{secret_id}/grants", { params: { path: { secret_id: secret.id ?? "" } } })).then(
        (r) => (r.grants ?? []) as SecretGrant[],
      ),
  });
  const [granteeType, setGranteeType] = useState<GranteeType>("GRANTEE_TYPE_USER");
  const [granteeId, setGranteeId] = useState("");
  const [actions, setActions] = useState<SecretAction[]>(["SECRET_ACTION_READ"]);
  const [expires, setExpires] = useState("");
  const create = useMutation({
    mutationFn: () =>
      unwrap(
        api().POST("/api/v1/secret/secrets/{secret_id}/grants", {
          params: { path: { secret_id: secret.id ?? "" } },
          body: { granteeType, granteeId, actions, ...(expires ? { expireTime: new Date(expires).toISOString() } : {}) },
        }),
      ),
    onSuccess: () => {
      toast.info("Granted");
      setGranteeId("");
      void client.invalidateQueries({ queryKey: key });
    },
  });
  const remove = useMutation({
    mutationFn: (grant: string) =>
      unwrap(api().DELETE("/api/v1/secret/secrets/{secret_id}/grants/{grant_id}", { params: { path: { secret_id: secret.id ?? "", grant_id: grant } } })),
    onSuccess: () => {
      toast.info("Grant removed");
      void client.invalidateQueries({ queryKey: key });
    },
  });
  const grantee = (g: SecretGrant) =>
    g.granteeType === "GRANTEE_TYPE_ROLE" ? `role ${g.granteeId}` : g.granteeType === "GRANTEE_TYPE_TEAM" ? `team ${g.granteeId}` : (names.get(g.granteeId ?? "") ?? g.granteeId);
  return (
    <section aria-label="Grants" className="flex flex-col gap-2">
      <h2 className="text-lg font-semibold">Grants</h2>
      <p className="text-xs text-muted-foreground">The owner may do everything; a grant lets a user, a team or a role do some of it.</p>
      <ErrorNotice error={grants.error ?? remove.error} />
      <table className="w-full text-sm">
        <caption className="sr-only">Grants</caption>
        <thead>
          <tr className="border-b border-border text-left">
            <th className="p-2">Who</th>
            <th className="p-2">May</th>
            <th className="p-2">Until</th>
            <th className="p-2">
              <span className="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {(grants.data ?? []).map((g) => (
            <tr key={g.id} className="border-b border-border">
              <td className="p-2">{grantee(g)}</td>
              <td className="p-2">{(g.actions ?? []).map((a) => ACTIONS.find((x) => x.value === a)?.label.toLowerCase()).join(", ")}</td>
              <td className="p-2">{g.expireTime ? when(g.expireTime) : "no end"}</td>
              <td className="p-2 text-right">
                <Button size="sm" variant="ghost" onClick={() => remove.mutate(g.id ?? "")}>
                  Remove
                </Button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {grants.isSuccess && grants.data.length === 0 ? <p className="text-sm text-muted-foreground">No grants.</p> : null}
      <form
        className="flex flex-wrap items-end gap-3"
        aria-label="New grant"
        onSubmit={(e) => {
          e.preventDefault();
          create.mutate();
        }}
      >
        <div className="w-32">
          <Field id="grantee-type" label="Grant to">
            <Select id="grantee-type" value={granteeType} onChange={(e) => setGranteeType(e.target.value as GranteeType)}>
              {GRANTEES.map((g) => (
                <option key={g.value} value={g.value}>
                  {g.label}
                </option>
              ))}
            </Select>
          </Field>
        </div>
        <div className="w-64">
          {granteeType === "GRANTEE_TYPE_USER" && names.size ? (
            <Field id="grantee-id" label="Member" error={violationOf(create.error, "grantee_id")}>
              <Select id="grantee-id" value={granteeId} onChange={(e) => setGranteeId(e.target.value)}>
                <option value="">Choose…</option>
                {[...names.entries()].map(([id, name]) => (
                  <option key={id} value={id}>
                    {name}
                  </option>
                ))}
              </Select>
            </Field>
          ) : granteeType === "GRANTEE_TYPE_ROLE" ? (
            <Field id="grantee-id" label="Role" error={violationOf(create.error, "grantee_id")}>
              <Input id="grantee-id" list="grant-roles" value={granteeId} onChange={(e) => setGranteeId(e.target.value)} />
            </Field>
          ) : (
            <Field id="grantee-id" label={granteeType === "GRANTEE_TYPE_TEAM" ? "Team id" : "User id"} error={violationOf(create.error, "grantee_id")}>
              <Input id="grantee-id" value={granteeId} onChange={(e) => setGranteeId(e.target.value)} />
            </Field>
          )}
          <datalist id="grant-roles">
            {SYSTEM_ROLES.map((r) => (
              <option key={r} value={r} />
            ))}
          </datalist>
        </div>
        <fieldset className="flex flex-wrap gap-3 pb-2">
          <legend className="sr-only">Actions</legend>
          {ACTIONS.map((a) => (
            <label key={a.value} className="flex items-center gap-1 text-sm">
              <input
                type="checkbox"
                checked={actions.includes(a.value)}
                onChange={(e) => setActions(e.target.checked ? [...actions, a.value] : actions.filter((x) => x !== a.value))}
              />
              {a.label}
            </label>
          ))}
        </fieldset>
        <div className="w-56">
          <Field id="grant-expires" label="Until (optional)">
            <Input id="grant-expires" type="datetime-local" value={expires} onChange={(e) => setExpires(e.target.value)} />
          </Field>
        </div>
        <Button type="submit" disabled={!granteeId || actions.length === 0 || create.isPending}>
          Grant
        </Button>
      </form>
      <ErrorNotice error={create.error} />
    </section>
  );
}

function Audit({ secret }: { secret: Secret }) {
  const names = useMemberNames();
  const records = useQuery({
    queryKey: [...secretKey(secret.id ?? ""), "audit"],
    refetchInterval: 10_000,
    queryFn: () =>
      unwrap(api().GET("/api/v1/secret/accessRecords", { params: { query: { secretId: secret.id ?? "", pageSize: 50 } } })).then(
        (r) => (r.records ?? []) as AccessRecord[],
      ),
  });
  return (
    <section aria-label="Access audit" className="flex flex-col gap-2">
      <h2 className="text-lg font-semibold">Access audit</h2>
      <ErrorNotice error={records.error} />
      <table className="w-full text-sm">
        <caption className="sr-only">Access audit</caption>
        <thead>
          <tr className="border-b border-border text-left">
            <th className="p-2">When</th>
            <th className="p-2">Who</th>
            <th className="p-2">Version</th>
            <th className="p-2">Reason</th>
            <th className="p-2">Outcome</th>
          </tr>
        </thead>
        <tbody>
          {(records.data ?? []).map((r) => (
            <tr key={r.id} className="border-b border-border" data-audit={r.reason}>
              <td className="p-2">{when(r.accessTime)}</td>
              <td className="p-2">
                {names.get(r.subject ?? "") ?? r.subject}
                {r.callingService ? <span className="block text-xs text-muted-foreground">through {r.callingService}</span> : null}
              </td>
              <td className="p-2">{r.version ? `v${r.version}` : "—"}</td>
              <td className="p-2">{r.reason || "—"}</td>
              <td className="p-2">{r.granted ? `read (${r.basis})` : `refused (${r.basis})`}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {records.isSuccess && records.data.length === 0 ? <p className="text-sm text-muted-foreground">No reads yet.</p> : null}
    </section>
  );
}

/** One secret: its metadata, the value masked until revealed with a reason, versions with
 * rollback, grants, the access audit (owners and admins), move or rename, export (admins),
 * delete and restore. */
export function SecretPage({ secretId }: { secretId: string }) {
  const client = useQueryClient();
  const router = useRouter();
  const { session } = useSession();
  const admin = isAdmin(session?.role);
  const [reveal, setReveal] = useState<number | null>(null);
  const [adding, setAdding] = useState(false);
  const [dialog, setDialog] = useState<"move" | "export" | null>(null);
  const secret = useQuery({
    queryKey: secretKey(secretId),
    queryFn: () => unwrap(api().GET("/api/v1/secret/secrets/{secret_id}", { params: { path: { secret_id: secretId } } })).then((r) => r.secret as Secret),
  });
  const changed = (message: string) => () => {
    toast.info(message);
    void client.invalidateQueries({ queryKey: secretKey(secretId) });
    void client.invalidateQueries({ queryKey: ["secrets"] });
  };
  const remove = useMutation({
    mutationFn: () => unwrap(api().DELETE("/api/v1/secret/secrets/{secret_id}", { params: { path: { secret_id: secretId }, query: { etag: secret.data?.etag ?? "" } } })),
    onSuccess: changed("Deleted: restorable for 30 days"),
  });
  const restore = useMutation({
    mutationFn: () => unwrap(api().POST("/api/v1/secret/secrets/{secret_id}:restore", { params: { path: { secret_id: secretId } }, body: {} })),
    onSuccess: changed("Restored"),
  });
  const purge = useMutation({
    mutationFn: () => unwrap(api().POST("/api/v1/secret/secrets/{secret_id}:purge", { params: { path: { secret_id: secretId } }, body: {} })),
    onSuccess: () => {
      toast.info("Purged");
      void client.invalidateQueries({ queryKey: ["secrets"] });
      router.push("/secrets");
    },
  });
  const data = secret.data;
  const deleted = data?.state === "SECRET_STATE_DELETED";
  return (
    <div className="flex flex-col gap-6">
      <nav aria-label="Breadcrumb" className="text-sm text-muted-foreground">
        <Link href="/secrets" className="hover:underline">
          Secrets
        </Link>
      </nav>
      <ErrorNotice error={secret.error} />
      {data ? (
        <>
          <div className="flex flex-col gap-1">
            <h1 className="font-mono text-2xl font-semibold">{data.name}</h1>
            <p className="text-sm text-muted-foreground" data-testid="secret-summary">
              {typeLabel(data.type)} · {scopeName(data.scope)}
              {data.scopeId ? ` ${data.scopeId}` : ""} · version {data.currentVersion}
              {deleted ? ` · deleted, purged ${when(data.purgeTime)}` : ""}
            </p>
            {data.description ? <p className="text-sm">{data.description}</p> : null}
            <dl className="mt-2 grid grid-cols-[auto_1fr] gap-x-4 gap-y-1 text-sm">
              <dt className="text-muted-foreground">Expires</dt>
              <dd>{data.expireTime ? when(data.expireTime) : "never"}</dd>
              <dt className="text-muted-foreground">Next rotation</dt>
              <dd>{data.nextRotationTime ? when(data.nextRotationTime) : "no schedule"}</dd>
              <dt className="text-muted-foreground">Updated</dt>
              <dd>{when(data.updateTime)}</dd>
              {Object.entries(data.metadata ?? {}).map(([k, v]) => (
                <div key={k} className="contents">
                  <dt className="text-muted-foreground">{k}</dt>
                  <dd>{v}</dd>
                </div>
              ))}
            </dl>
          </div>
          <section aria-label="Value" className="flex flex-col gap-2">
            <h2 className="text-lg font-semibold">Value</h2>
            <div className="flex items-center gap-3">
              <span className="rounded-md bg-muted px-3 py-2 font-mono text-sm" data-testid="masked-value">
                {MASK}
              </span>
              {!deleted ? (
                <>
                  <Button onClick={() => setReveal(0)}>Reveal</Button>
                  <Button variant="secondary" onClick={() => setAdding(!adding)}>
                    New version
                  </Button>
                </>
              ) : null}
            </div>
            {adding ? <NewVersion secret={data} onDone={() => setAdding(false)} /> : null}
          </section>
          <Versions secret={data} onReveal={setReveal} />
          <Grants secret={data} />
          {admin ? <Audit secret={data} /> : null}
          <section aria-label="Manage" className="flex flex-col gap-2">
            <ErrorNotice error={remove.error ?? restore.error ?? purge.error} />
            <div className="flex flex-wrap gap-2">
              {!deleted ? (
                <Button variant="secondary" onClick={() => setDialog("move")}>
                  Move or rename
                </Button>
              ) : null}
              {!deleted && admin ? (
                <Button variant="secondary" onClick={() => setDialog("export")}>
                  Export
                </Button>
              ) : null}
              {deleted ? (
                <>
                  <Button variant="secondary" onClick={() => restore.mutate()} disabled={restore.isPending}>
                    Restore
                  </Button>
                  {admin ? (
                    <Button variant="danger" onClick={() => purge.mutate()} disabled={purge.isPending}>
                      Purge now
                    </Button>
                  ) : null}
                </>
              ) : (
                <Button variant="danger" onClick={() => remove.mutate()} disabled={remove.isPending}>
                  Delete (restorable for 30 days)
                </Button>
              )}
            </div>
          </section>
          {reveal !== null ? <Reveal secret={data} version={reveal} onClose={() => setReveal(null)} /> : null}
          {dialog === "move" ? <MoveSecret secret={data} onClose={() => setDialog(null)} /> : null}
          {dialog === "export" ? <ExportSecrets secret={data} onClose={() => setDialog(null)} /> : null}
        </>
      ) : null}
    </div>
  );
}
