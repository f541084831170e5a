"use client";
import { zodResolver } from "@hookform/resolvers/zod";
import Link from "next/link";
import { useRouter, useSearchParams } from "next/navigation";
import { type ReactNode, useEffect, useState } from "react";
import { useForm } from "react-hook-form";
import { z } from "zod";
import { acceptInvitation, register as registerAccount, signIn } from "@/lib/session";
import { ErrorNotice, violationOf } from "./errors";
import { useSession } from "./providers";
import { ThemeToggle } from "./theme";
import { Button } from "./ui/button";
import { Field, Input } from "./ui/field";

function AuthFrame({ title, children }: { title: string; children: ReactNode }) {
  return (
    <main className="flex min-h-screen items-center justify-center p-6">
      <div className="w-full max-w-sm rounded-lg border border-border bg-card p-8 shadow-sm">
        <div className="mb-6 flex items-center justify-between">
          <h1 className="text-xl font-semibold">{title}</h1>
          <ThemeToggle />
        </div>
        {children}
      </div>
    </main>
  );
}

/** Where to go after signing in: the page that sent the user here, if it is one of ours. */
function useNext(): string {
  const next = useSearchParams().get("next") ?? "";
  return next.startsWith("/") && !next.startsWith("//") ? next : "/planning";
}

const signInSchema = z.object({
  email: z.string().min(1, "Enter your email"),
  password: z.string().min(1, "Enter your password"),
});

export function SignInForm() {
  const router = useRouter();
  const next = useNext();
  const { session, ready } = useSession();
  const [failure, setFailure] = useState<unknown>(null);
  const [providers, setProviders] = useState<string[]>([]);
  const form = useForm<z.infer<typeof signInSchema>>({ resolver: zodResolver(signInSchema) });
  const { errors, isSubmitting } = form.formState;

  useEffect(() => {
    if (ready && session) router.replace(next);
  }, [ready, session, next, router]);
  useEffect(() => {
    void fetch("/api/auth/providers")
      .then((r) => r.json() as Promise<{ providers: string[] }>)
      .then((body) => setProviders(body.providers))
      .catch(() => setProviders([]));
  }, []);

  const submit = form.handleSubmit(async ({ email, password }) => {
    setFailure(null);
    try {
      await signIn(email, password);
      router.replace(next);
    } catch (error) {
      setFailure(error);
    }
  });

  return (
    <AuthFrame title="Sign in">
      <form onSubmit={submit} className="flex flex-col gap-4" noValidate>
        <Field id="email" label="Email" error={errors.email?.message ?? violationOf(failure, "email")}>
          <Input id="email" type="email" autoComplete="username" aria-invalid={!!errors.email} {...form.register("email")} />
        </Field>
        <Field id="password" label="Password" error={errors.password?.message ?? violationOf(failure, "password")}>
          <Input
            id="password"
            type="password"
            autoComplete="current-password"
            aria-invalid={!!errors.password}
            {...form.register("password")}
          />
        </Field>
        <ErrorNotice error={failure} />
        <Button type="submit" disabled={isSubmitting}>
          {isSubmitting ? "Signing in…" : "Sign in"}
        </Button>
      </form>
      {providers.length > 0 ? (
        <div className="mt-4 flex flex-col gap-2">
          {providers.map((name) => (
            <Button key={name} variant="secondary" asChild>
              <a href={`/api/auth/oidc/${encodeURIComponent(name)}/login`}>Continue with {name}</a>
            </Button>
          ))}
        </div>
      ) : null}
      <p className="mt-6 text-sm text-muted-foreground">
        New here?{" "}
        <Link href="/register" className="font-medium text-primary underline">
          Create an account
        </Link>
      </p>
    </AuthFrame>
  );
}

const registerSchema = z.object({
  displayName: z.string().min(1, "Enter your name").max(200),
  email: z.string().email("Enter a valid email"),
  password: z.string().min(12, "At least 12 characters"),
  organizationName: z.string().min(1, "Name your organization").max(200),
});

export function RegisterForm() {
  const router = useRouter();
  const [failure, setFailure] = useState<unknown>(null);
  const form = useForm<z.infer<typeof registerSchema>>({ resolver: zodResolver(registerSchema) });
  const { errors, isSubmitting } = form.formState;
  const submit = form.handleSubmit(async (values) => {
    setFailure(null);
    try {
      await registerAccount(values);
      router.replace("/planning");
    } catch (error) {
      setFailure(error);
    }
  });
  const fields = [
    ["displayName", "Your name", "text", "name"],
    ["email", "Email", "email", "username"],
    ["password", "Password", "password", "new-password"],
    ["organizationName", "Organization", "text", "organization"],
  ] as const;
  return (
    <AuthFrame title="Create an account">
      <form onSubmit={submit} className="flex flex-col gap-4" noValidate>
        {fields.map(([name, label, type, autoComplete]) => (
          <Field key={name} id={name} label={label} error={errors[name]?.message ?? violationOf(failure, name)}>
            <Input id={name} type={type} autoComplete={autoComplete} aria-invalid={!!errors[name]} {...form.register(name)} />
          </Field>
        ))}
        <ErrorNotice error={failure} />
        <Button type="submit" disabled={isSubmitting}>
          Create account
        </Button>
      </form>
      <p className="mt-6 text-sm text-muted-foreground">
        Have an account?{" "}
        <Link href="/sign-in" className="font-medium text-primary underline">
          Sign in
        </Link>
      </p>
    </AuthFrame>
  );
}

const acceptSchema = z.object({
  displayName: z.string().max(200),
  email: z.string().max(320),
  password: z.string().max(1024),
});

export function AcceptInvitationForm() {
  const router = useRouter();
  const token = useSearchParams().get("token") ?? "";
  const { session } = useSession();
  const [failure, setFailure] = useState<unknown>(null);
  const form = useForm<z.infer<typeof acceptSchema>>({
    resolver: zodResolver(acceptSchema),
    defaultValues: { displayName: "", email: "", password: "" },
  });
  const { isSubmitting } = form.formState;
  const submit = form.handleSubmit(async (values) => {
    setFailure(null);
    try {
      await acceptInvitation(session ? { token } : { token, ...values });
      router.replace("/planning");
    } catch (error) {
      setFailure(error);
    }
  });
  return (
    <AuthFrame title="Join an organization">
      {!token ? <p role="alert">This link has no invitation token.</p> : null}
      <form onSubmit={submit} className="flex flex-col gap-4" noValidate>
        {session ? (
          <p className="text-sm">You will join as {session.user.email}.</p>
        ) : (
          <>
            <Field id="displayName" label="Your name" error={violationOf(failure, "displayName")}>
              <Input id="displayName" autoComplete="name" {...form.register("displayName")} />
            </Field>
            <Field id="email" label="Email (for a link invitation)" error={violationOf(failure, "email")}>
              <Input id="email" type="email" autoComplete="username" {...form.register("email")} />
            </Field>
            <Field id="password" label="Password" error={violationOf(failure, "password")}>
              <Input id="password" type="password" autoComplete="new-password" {...form.register("password")} />
            </Field>
          </>
        )}
        <ErrorNotice error={failure} />
        <Button type="submit" disabled={isSubmitting || !token}>
          Accept invitation
        </Button>
      </form>
    </AuthFrame>
  );
}

/** Where an OIDC sign-in lands: the BFF has set the refresh cookie; get an access token. */
export function SignInComplete() {
  const router = useRouter();
  const { session, ready } = useSession();
  useEffect(() => {
    if (ready) router.replace(session ? "/planning" : "/sign-in?error=oidc");
  }, [ready, session, router]);
  return (
    <AuthFrame title="Signing in">
      <p className="text-sm text-muted-foreground">One moment…</p>
    </AuthFrame>
  );
}
