"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { useState } from "react";
import { api, unwrap } from "@/lib/api";
import { ErrorNotice, toast, violationOf } from "../errors";
import { Button } from "../ui/button";
import { Field, Input } from "../ui/field";
import { ACCOUNT_TABS, Section, Table, when } from "./common";

export function Profile() {
  const client = useQueryClient();
  const user = useQuery({ queryKey: ["me"], queryFn: () => unwrap(api().GET("/api/v1/identity/user")) });
  const [name, setName] = useState<string | null>(null);
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const save = useMutation({
    mutationFn: () =>
      unwrap(api().PATCH("/api/v1/identity/user", { params: { query: { updateMask: "displayName" } }, body: { displayName: name ?? "" } })),
    onSuccess: () => {
      void client.invalidateQueries({ queryKey: ["me"] });
      toast.info("Profile saved");
    },
  });
  const password = useMutation({
    mutationFn: () => unwrap(api().POST("/api/v1/identity/user:changePassword", { body: { currentPassword: current, newPassword: next } })),
    onSuccess: () => {
      setCurrent("");
      setNext("");
      toast.info("Password changed");
    },
  });
  return (
    <Section title="My account" tabs={ACCOUNT_TABS}>
      <ErrorNotice error={user.error} />
      <form
        className="flex max-w-md flex-col gap-4"
        onSubmit={(e) => {
          e.preventDefault();
          save.mutate();
        }}
        noValidate
      >
        <h2 className="text-lg font-semibold">Profile</h2>
        <p className="text-sm">Email: {user.data?.user?.email}</p>
        <Field id="display-name" label="Display name" error={violationOf(save.error, "displayName")}>
          <Input id="display-name" value={name ?? user.data?.user?.displayName ?? ""} onChange={(e) => setName(e.target.value)} />
        </Field>
        <Button type="submit" className="self-start">
          Save profile
        </Button>
      </form>
      <form
        className="flex max-w-md flex-col gap-4"
        onSubmit={(e) => {
          e.preventDefault();
          password.mutate();
        }}
        noValidate
      >
        <h2 className="text-lg font-semibold">Password</h2>
        <Field id="current-password" label="Current password" error={violationOf(password.error, "currentPassword")}>
          <Input id="current-password" type="password" autoComplete="current-password" value={current} onChange={(e) => setCurrent(e.target.value)} />
        </Field>
        <Field id="new-password" label="New password" error={violationOf(password.error, "newPassword")}>
          <Input id="new-password" type="password" autoComplete="new-password" value={next} onChange={(e) => setNext(e.target.value)} />
        </Field>
        <ErrorNotice
          error={password.error && !violationOf(password.error, "currentPassword") && !violationOf(password.error, "newPassword") ? password.error : null}
        />
        <Button type="submit" className="self-start">
          Change password
        </Button>
      </form>
    </Section>
  );
}

export function Sessions() {
  const client = useQueryClient();
  const router = useRouter();
  const sessions = useQuery({ queryKey: ["sessions"], queryFn: () => unwrap(api().GET("/api/v1/identity/sessions")) });
  const done = () => void client.invalidateQueries({ queryKey: ["sessions"] });
  const revoke = useMutation({
    mutationFn: (id: string) => unwrap(api().DELETE("/api/v1/identity/sessions/{session_id}", { params: { path: { session_id: id } } })),
    onSuccess: done,
    onError: (error) => toast.error(error),
  });
  const others = useMutation({
    mutationFn: () => unwrap(api().POST("/api/v1/identity/sessions:revokeOthers", { body: {} })),
    onSuccess: done,
    onError: (error) => toast.error(error),
  });
  const list = sessions.data?.sessions ?? [];
  return (
    <Section title="My account" tabs={ACCOUNT_TABS}>
      <div className="flex items-center justify-between">
        <h2 className="text-lg font-semibold">Sessions</h2>
        <Button variant="secondary" onClick={() => others.mutate()} disabled={list.length < 2}>
          Sign out every other session
        </Button>
      </div>
      <ErrorNotice error={sessions.error} />
      <Table caption="Sessions" head={["Device", "IP address", "Started", "Last used", ""]}>
        {list.map((s) => (
          <tr key={s.id} className="border-b border-border" data-session-id={s.id}>
            <td className="p-2">
              {s.deviceLabel || s.userAgent || "Unknown device"}
              {s.current ? <span className="ml-2 rounded bg-accent px-1.5 text-xs">this browser</span> : null}
            </td>
            <td className="p-2">{s.ipAddress}</td>
            <td className="p-2">{when(s.createTime)}</td>
            <td className="p-2">{when(s.lastSeenTime)}</td>
            <td className="p-2">
              <Button
                size="sm"
                variant="ghost"
                aria-label={`Revoke the session of ${s.deviceLabel || "this device"} started ${when(s.createTime)}`}
                onClick={() => (s.current ? void fetch("/api/auth/logout", { method: "POST" }).then(() => router.replace("/sign-in")) : revoke.mutate(s.id ?? ""))}
              >
                Revoke
              </Button>
            </td>
          </tr>
        ))}
      </Table>
    </Section>
  );
}
