"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { api, type Schemas, unwrap } from "@/lib/api";
import { ErrorNotice, toast, violationOf } from "../errors";
import { useSession } from "../providers";
import { Button } from "../ui/button";
import { Field, Input, Select, Textarea } from "../ui/field";
import { isAdmin, Section, SETTINGS_TABS, SYSTEM_ROLES, Table, useOrganizationId, when } from "./common";

function useRoles() {
  const org = useOrganizationId();
  const { session } = useSession();
  return useQuery({
    queryKey: ["roles", org],
    enabled: isAdmin(session?.role),
    queryFn: () => unwrap(api().GET("/api/v1/identity/organizations/{organization_id}/roles", { params: { path: { organization_id: org } } })),
  });
}

function RoleSelect({ id, value, onChange, label }: { id: string; value: string; onChange: (v: string) => void; label: string }) {
  const roles = useRoles();
  return (
    <Select id={id} aria-label={label} value={value} onChange={(e) => onChange(e.target.value)}>
      {SYSTEM_ROLES.map((r) => (
        <option key={r} value={r}>
          {r}
        </option>
      ))}
      {(roles.data?.roles ?? []).map((r) => (
        <option key={r.id} value={r.id}>
          {r.name}
        </option>
      ))}
    </Select>
  );
}

function AdminsOnly({ children }: { children: React.ReactNode }) {
  const { session } = useSession();
  if (!isAdmin(session?.role))
    return <p className="text-sm text-muted-foreground">Only the organization&apos;s owners and admins manage this.</p>;
  return <>{children}</>;
}

export function OrganizationGeneral() {
  const org = useOrganizationId();
  const client = useQueryClient();
  const organization = useQuery({
    queryKey: ["organization", org],
    queryFn: () => unwrap(api().GET("/api/v1/identity/organizations/{organization_id}", { params: { path: { organization_id: org } } })),
  });
  const [name, setName] = useState<string | null>(null);
  const save = useMutation({
    mutationFn: () =>
      unwrap(
        api().PATCH("/api/v1/identity/organizations/{organization_id}", {
          params: { path: { organization_id: org }, query: { updateMask: "name" } },
          body: { name: name ?? "" },
        }),
      ),
    onSuccess: () => {
      void client.invalidateQueries({ queryKey: ["organization"] });
      void client.invalidateQueries({ queryKey: ["organizations"] });
      toast.info("Organization saved");
    },
  });
  const current = name ?? organization.data?.organization?.name ?? "";
  return (
    <Section title="Organization" tabs={SETTINGS_TABS}>
      <ErrorNotice error={organization.error} />
      <form
        className="flex max-w-md flex-col gap-4"
        onSubmit={(e) => {
          e.preventDefault();
          save.mutate();
        }}
      >
        <Field id="org-name" label="Name" error={violationOf(save.error, "name")}>
          <Input id="org-name" value={current} onChange={(e) => setName(e.target.value)} />
        </Field>
        <p className="text-sm text-muted-foreground">Slug: {organization.data?.organization?.slug}</p>
        <ErrorNotice error={save.error && !violationOf(save.error, "name") ? save.error : null} />
        <Button type="submit" disabled={save.isPending} className="self-start">
          Save
        </Button>
      </form>
    </Section>
  );
}

export function Members() {
  const org = useOrganizationId();
  const client = useQueryClient();
  const { session } = useSession();
  const members = useQuery({
    queryKey: ["members", org],
    enabled: isAdmin(session?.role),
    queryFn: () =>
      unwrap(api().GET("/api/v1/identity/organizations/{organization_id}/members", { params: { path: { organization_id: org }, query: { pageSize: 1000 } } })),
  });
  const change = useMutation({
    mutationFn: ({ userId, role }: { userId: string; role: string }) =>
      unwrap(
        api().PATCH("/api/v1/identity/organizations/{organization_id}/members/{user_id}", {
          params: { path: { organization_id: org, user_id: userId } },
          body: { organizationId: org, userId, role },
        }),
      ),
    onSuccess: () => void client.invalidateQueries({ queryKey: ["members"] }),
    onError: (error) => toast.error(error),
  });
  const remove = useMutation({
    mutationFn: (userId: string) =>
      unwrap(api().DELETE("/api/v1/identity/organizations/{organization_id}/members/{user_id}", { params: { path: { organization_id: org, user_id: userId } } })),
    onSuccess: () => void client.invalidateQueries({ queryKey: ["members"] }),
    onError: (error) => toast.error(error),
  });
  return (
    <Section title="Organization" tabs={SETTINGS_TABS}>
      <AdminsOnly>
        <ErrorNotice error={members.error} />
        <Table caption="Members" head={["Name", "Email", "Role", "Joined", ""]}>
          {(members.data?.members ?? []).map((m) => (
            <tr key={m.userId} className="border-b border-border">
              <td className="p-2">{m.displayName}</td>
              <td className="p-2">{m.email}</td>
              <td className="p-2">
                <RoleSelect id={`role-${m.userId}`} label={`Role of ${m.email}`} value={m.role ?? "member"} onChange={(role) => change.mutate({ userId: m.userId ?? "", role })} />
              </td>
              <td className="p-2">{when(m.joinTime)}</td>
              <td className="p-2">
                {m.userId !== session?.user.id ? (
                  <Button variant="ghost" size="sm" onClick={() => remove.mutate(m.userId ?? "")}>
                    Remove {m.displayName}
                  </Button>
                ) : null}
              </td>
            </tr>
          ))}
        </Table>
      </AdminsOnly>
    </Section>
  );
}

export function Invitations() {
  const org = useOrganizationId();
  const client = useQueryClient();
  const { session } = useSession();
  const [email, setEmail] = useState("");
  const [role, setRole] = useState("member");
  const [link, setLink] = useState("");
  const invitations = useQuery({
    queryKey: ["invitations", org],
    enabled: isAdmin(session?.role),
    queryFn: () => unwrap(api().GET("/api/v1/identity/organizations/{organization_id}/invitations", { params: { path: { organization_id: org } } })),
  });
  const invite = useMutation({
    mutationFn: () =>
      unwrap(
        api().POST("/api/v1/identity/organizations/{organization_id}/invitations", {
          params: { path: { organization_id: org } },
          body: { organizationId: org, email, role },
        }),
      ),
    onSuccess: (reply) => {
      setLink(`${window.location.origin}/invitations/accept?token=${encodeURIComponent(reply.token ?? "")}`);
      setEmail("");
      void client.invalidateQueries({ queryKey: ["invitations"] });
    },
  });
  const act = useMutation({
    mutationFn: ({ id, action }: { id: string; action: "resend" | "revoke" }) =>
      action === "resend"
        ? unwrap(
            api().POST("/api/v1/identity/organizations/{organization_id}/invitations/{invitation_id}:resend", {
              params: { path: { organization_id: org, invitation_id: id } },
              body: { organizationId: org, invitationId: id },
            }),
          ).then((reply) => setLink(`${window.location.origin}/invitations/accept?token=${encodeURIComponent(reply.token ?? "")}`))
        : unwrap(
            api().POST("/api/v1/identity/organizations/{organization_id}/invitations/{invitation_id}:revoke", {
              params: { path: { organization_id: org, invitation_id: id } },
              body: { organizationId: org, invitationId: id },
            }),
          ).then(() => undefined),
    onSuccess: () => void client.invalidateQueries({ queryKey: ["invitations"] }),
    onError: (error) => toast.error(error),
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    invite.mutate();
  };
  return (
    <Section title="Organization" tabs={SETTINGS_TABS}>
      <AdminsOnly>
        <form className="flex items-end gap-3" onSubmit={submit} noValidate>
          <Field id="invite-email" label="Email" error={violationOf(invite.error, "email")}>
            <Input id="invite-email" type="email" value={email} onChange={(e) => setEmail(e.target.value)} />
          </Field>
          <Field id="invite-role" label="Role">
            <RoleSelect id="invite-role" label="Role" value={role} onChange={setRole} />
          </Field>
          <Button type="submit" disabled={invite.isPending}>
            Invite
          </Button>
        </form>
        <ErrorNotice error={invite.error && !violationOf(invite.error, "email") ? invite.error : null} />
        {link ? (
          <div role="status" className="rounded-md border border-border p-3 text-sm">
            <p>Send this link to the invitee (shown once):</p>
            <Input aria-label="Invitation link" readOnly value={link} data-testid="invitation-link" />
          </div>
        ) : null}
        <Table caption="Invitations" head={["Email", "Role", "State", "Expires", ""]}>
          {(invitations.data?.invitations ?? []).map((i) => (
            <tr key={i.id} className="border-b border-border">
              <td className="p-2">{i.email || "(link)"}</td>
              <td className="p-2">{i.role}</td>
              <td className="p-2">{String(i.state ?? "").replace("INVITATION_STATE_", "").toLowerCase()}</td>
              <td className="p-2">{when(i.expireTime)}</td>
              <td className="flex gap-1 p-2">
                {i.state === "INVITATION_STATE_PENDING" ? (
                  <>
                    <Button size="sm" variant="secondary" onClick={() => act.mutate({ id: i.id ?? "", action: "resend" })}>
                      Resend
                    </Button>
                    <Button size="sm" variant="ghost" onClick={() => act.mutate({ id: i.id ?? "", action: "revoke" })}>
                      Revoke
                    </Button>
                  </>
                ) : null}
              </td>
            </tr>
          ))}
        </Table>
      </AdminsOnly>
    </Section>
  );
}

function RoleRow({ role, organizationId }: { role: Schemas["coder.identity.v1.Role"]; organizationId: string }) {
  const client = useQueryClient();
  const [permissions, setPermissions] = useState((role.permissions ?? []).join(" "));
  const save = useMutation({
    mutationFn: () =>
      unwrap(
        api().PATCH("/api/v1/identity/organizations/{role_organization_id}/roles/{role_id}", {
          params: { path: { role_organization_id: organizationId, role_id: role.id ?? "" }, query: { updateMask: "permissions" } },
          body: { permissions: permissions.split(/[\s,]+/).filter(Boolean), etag: role.etag },
        }),
      ),
    onSuccess: () => {
      void client.invalidateQueries({ queryKey: ["roles"] });
      toast.info(`Saved ${role.name}`);
    },
    onError: (error) => toast.error(error),
  });
  const remove = useMutation({
    mutationFn: () =>
      unwrap(
        api().DELETE("/api/v1/identity/organizations/{role_organization_id}/roles/{role_id}", {
          params: { path: { role_organization_id: organizationId, role_id: role.id ?? "" } },
        }),
      ),
    onSuccess: () => void client.invalidateQueries({ queryKey: ["roles"] }),
    onError: (error) => toast.error(error),
  });
  return (
    <tr className="border-b border-border">
      <td className="p-2">{role.name}</td>
      <td className="p-2">
        <Input aria-label={`Permissions of ${role.name}`} value={permissions} onChange={(e) => setPermissions(e.target.value)} />
      </td>
      <td className="flex gap-1 p-2">
        <Button size="sm" variant="secondary" onClick={() => save.mutate()} disabled={save.isPending}>
          Save {role.name}
        </Button>
        <Button size="sm" variant="ghost" onClick={() => remove.mutate()}>
          Delete {role.name}
        </Button>
      </td>
    </tr>
  );
}

export function Roles() {
  const org = useOrganizationId();
  const client = useQueryClient();
  const roles = useRoles();
  const [name, setName] = useState("");
  const [permissions, setPermissions] = useState("planning.*.read");
  const create = useMutation({
    mutationFn: () =>
      unwrap(
        api().POST("/api/v1/identity/organizations/{organization_id}/roles", {
          params: { path: { organization_id: org } },
          body: { name, permissions: permissions.split(/[\s,]+/).filter(Boolean) },
        }),
      ),
    onSuccess: () => {
      setName("");
      void client.invalidateQueries({ queryKey: ["roles"] });
    },
  });
  return (
    <Section title="Organization" tabs={SETTINGS_TABS}>
      <AdminsOnly>
        <form
          className="flex items-end gap-3"
          onSubmit={(e) => {
            e.preventDefault();
            create.mutate();
          }}
          noValidate
        >
          <Field id="role-name" label="Role name" error={violationOf(create.error, "name")}>
            <Input id="role-name" value={name} onChange={(e) => setName(e.target.value)} />
          </Field>
          <Field id="role-permissions" label="Permissions (space-separated)" error={violationOf(create.error, "permissions")}>
            <Input id="role-permissions" value={permissions} onChange={(e) => setPermissions(e.target.value)} />
          </Field>
          <Button type="submit">Create role</Button>
        </form>
        <ErrorNotice
          error={create.error && !violationOf(create.error, "name") && !violationOf(create.error, "permissions") ? create.error : null}
        />
        <Table caption="Custom roles" head={["Name", "Permissions", ""]}>
          {(roles.data?.roles ?? []).map((r) => (
            <RoleRow key={`${r.id}-${r.etag}`} role={r} organizationId={org} />
          ))}
        </Table>
      </AdminsOnly>
    </Section>
  );
}

export function Teams() {
  const org = useOrganizationId();
  const client = useQueryClient();
  const [name, setName] = useState("");
  const [parentId, setParentId] = useState("");
  const teams = useQuery({
    queryKey: ["teams", org],
    queryFn: () =>
      unwrap(api().GET("/api/v1/identity/organizations/{organization_id}/teams", { params: { path: { organization_id: org }, query: { pageSize: 1000 } } })),
  });
  const create = useMutation({
    mutationFn: () =>
      unwrap(
        api().POST("/api/v1/identity/organizations/{organization_id}/teams", {
          params: { path: { organization_id: org } },
          body: { name, parentId },
        }),
      ),
    onSuccess: () => {
      setName("");
      void client.invalidateQueries({ queryKey: ["teams"] });
    },
  });
  const remove = useMutation({
    mutationFn: (id: string) =>
      unwrap(api().DELETE("/api/v1/identity/organizations/{organization_id}/teams/{team_id}", { params: { path: { organization_id: org, team_id: id } } })),
    onSuccess: () => void client.invalidateQueries({ queryKey: ["teams"] }),
    onError: (error) => toast.error(error),
  });
  const all = teams.data?.teams ?? [];
  const depth = (id: string | undefined, seen = 0): number => {
    const team = all.find((t) => t.id === id);
    return team?.parentId && seen < 10 ? 1 + depth(team.parentId, seen + 1) : 0;
  };
  return (
    <Section title="Organization" tabs={SETTINGS_TABS}>
      <form
        className="flex items-end gap-3"
        onSubmit={(e) => {
          e.preventDefault();
          create.mutate();
        }}
        noValidate
      >
        <Field id="team-name" label="Team name" error={violationOf(create.error, "name")}>
          <Input id="team-name" value={name} onChange={(e) => setName(e.target.value)} />
        </Field>
        <Field id="team-parent" label="Inside team">
          <Select id="team-parent" value={parentId} onChange={(e) => setParentId(e.target.value)}>
            <option value="">(top level)</option>
            {all.map((t) => (
              <option key={t.id} value={t.id}>
                {t.name}
              </option>
            ))}
          </Select>
        </Field>
        <Button type="submit">Create team</Button>
      </form>
      <ErrorNotice error={teams.error} />
      <ul aria-label="Teams" className="flex flex-col gap-1">
        {all.map((t) => (
          <li key={t.id} className="flex items-center gap-2 text-sm" style={{ paddingLeft: `${depth(t.id) * 1.5}rem` }}>
            <span className="font-medium">{t.name}</span>
            <Button size="sm" variant="ghost" onClick={() => remove.mutate(t.id ?? "")}>
              Delete {t.name}
            </Button>
          </li>
        ))}
      </ul>
    </Section>
  );
}

export function ServiceAccounts() {
  const org = useOrganizationId();
  const client = useQueryClient();
  const [name, setName] = useState("");
  const [permissions, setPermissions] = useState("planning.task.read");
  const [secret, setSecret] = useState<{ clientId: string; clientSecret: string } | null>(null);
  const accounts = useQuery({
    queryKey: ["service-accounts", org],
    queryFn: () =>
      unwrap(api().GET("/api/v1/identity/organizations/{organization_id}/serviceAccounts", { params: { path: { organization_id: org }, query: { pageSize: 1000 } } })),
  });
  const refreshList = () => void client.invalidateQueries({ queryKey: ["service-accounts"] });
  const create = useMutation({
    mutationFn: () =>
      unwrap(
        api().POST("/api/v1/identity/organizations/{organization_id}/serviceAccounts", {
          params: { path: { organization_id: org } },
          body: { name, permissions: permissions.split(/[\s,]+/).filter(Boolean) },
        }),
      ),
    onSuccess: (reply) => {
      setSecret({ clientId: reply.serviceAccount?.clientId ?? "", clientSecret: reply.clientSecret ?? "" });
      setName("");
      refreshList();
    },
  });
  const rotate = useMutation({
    mutationFn: (id: string) =>
      unwrap(
        api().POST("/api/v1/identity/organizations/{organization_id}/serviceAccounts/{service_account_id}:rotateSecret", {
          params: { path: { organization_id: org, service_account_id: id } },
          body: { organizationId: org, serviceAccountId: id },
        }),
      ),
    onSuccess: (reply) => setSecret({ clientId: reply.serviceAccount?.clientId ?? "", clientSecret: reply.clientSecret ?? "" }),
    onError: (error) => toast.error(error),
  });
  const disable = useMutation({
    mutationFn: (id: string) =>
      unwrap(
        api().POST("/api/v1/identity/organizations/{organization_id}/serviceAccounts/{service_account_id}:disable", {
          params: { path: { organization_id: org, service_account_id: id } },
          body: { organizationId: org, serviceAccountId: id },
        }),
      ),
    onSuccess: refreshList,
    onError: (error) => toast.error(error),
  });
  return (
    <Section title="Organization" tabs={SETTINGS_TABS}>
      <AdminsOnly>
        <form
          className="flex items-end gap-3"
          onSubmit={(e) => {
            e.preventDefault();
            create.mutate();
          }}
          noValidate
        >
          <Field id="sa-name" label="Name" error={violationOf(create.error, "name")}>
            <Input id="sa-name" value={name} onChange={(e) => setName(e.target.value)} />
          </Field>
          <Field id="sa-permissions" label="Permissions (space-separated)" error={violationOf(create.error, "permissions")}>
            <Textarea id="sa-permissions" className="min-h-9" value={permissions} onChange={(e) => setPermissions(e.target.value)} />
          </Field>
          <Button type="submit">Create service account</Button>
        </form>
        {secret ? (
          <div role="status" className="rounded-md border border-border p-3 text-sm">
            <p>Client id {secret.clientId}. Copy the secret now: it is shown only once.</p>
            <Input aria-label="Client secret" readOnly value={secret.clientSecret} data-testid="client-secret" />
            <Button size="sm" variant="secondary" className="mt-2" onClick={() => setSecret(null)}>
              I have stored it
            </Button>
          </div>
        ) : null}
        <Table caption="Service accounts" head={["Name", "Client id", "Permissions", "Last used", "State", ""]}>
          {(accounts.data?.serviceAccounts ?? []).map((a) => (
            <tr key={a.id} className="border-b border-border">
              <td className="p-2">{a.name}</td>
              <td className="p-2 font-mono text-xs">{a.clientId}</td>
              <td className="p-2">{(a.permissions ?? []).join(" ")}</td>
              <td className="p-2">{when(a.lastUsedTime)}</td>
              <td className="p-2">{a.disabled ? "disabled" : "active"}</td>
              <td className="flex gap-1 p-2">
                {!a.disabled ? (
                  <>
                    <Button size="sm" variant="secondary" onClick={() => rotate.mutate(a.id ?? "")}>
                      Rotate secret
                    </Button>
                    <Button size="sm" variant="ghost" onClick={() => disable.mutate(a.id ?? "")}>
                      Disable
                    </Button>
                  </>
                ) : null}
              </td>
            </tr>
          ))}
        </Table>
      </AdminsOnly>
    </Section>
  );
}
