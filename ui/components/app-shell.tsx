"use client";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { Command } from "cmdk";
import { Building2, ChevronsUpDown, KanbanSquare, LogOut, Search, UserRound } from "lucide-react";
import Link from "next/link";
import { usePathname, useRouter } from "next/navigation";
import { type ReactNode, useEffect, useState } from "react";
import { api, unwrap } from "@/lib/api";
import { signOut, switchOrganization } from "@/lib/session";
import { toast } from "./errors";
import { useSession } from "./providers";
import { setTheme, ThemeToggle, useDark } from "./theme";
import { Button } from "./ui/button";
import { cn } from "./ui/cn";
import { Dialog, DialogContent } from "./ui/dialog";
import { DropdownMenu, DropdownMenuContent, DropdownMenuItem, DropdownMenuTrigger } from "./ui/menu";

/** One entry per service the suite serves; a service gets its entry when its pages land. */
export const NAVIGATION = [
  { href: "/planning", label: "Planning", icon: KanbanSquare },
  { href: "/settings/organization", label: "Organization", icon: Building2 },
  { href: "/account", label: "My account", icon: UserRound },
] as const;

function useOrganizations() {
  const { session } = useSession();
  return useQuery({
    queryKey: ["organizations", session?.user.id],
    enabled: !!session,
    queryFn: () => unwrap(api().GET("/api/v1/identity/organizations")),
  });
}

function OrganizationSwitcher() {
  const { session } = useSession();
  const organizations = useOrganizations();
  const client = useQueryClient();
  const router = useRouter();
  const memberships = organizations.data?.memberships ?? [];
  const currentName =
    memberships.find((m) => m.organization?.id === session?.organizationId)?.organization?.name ?? "Organization";
  const choose = async (id: string) => {
    try {
      await switchOrganization(id);
      client.clear();
      router.push("/planning");
    } catch (error) {
      toast.error(error);
    }
  };
  return (
    <DropdownMenu>
      <DropdownMenuTrigger asChild>
        <Button variant="secondary" className="w-full justify-between" aria-label={`Organization: ${currentName}`}>
          <span className="truncate">{currentName}</span>
          <ChevronsUpDown className="h-4 w-4" aria-hidden />
        </Button>
      </DropdownMenuTrigger>
      <DropdownMenuContent label="Switch organization">
        {memberships.map((m) => (
          <DropdownMenuItem key={m.organization?.id} onSelect={() => void choose(m.organization?.id ?? "")}>
            {m.organization?.name} <span className="text-xs text-muted-foreground">({m.role})</span>
          </DropdownMenuItem>
        ))}
      </DropdownMenuContent>
    </DropdownMenu>
  );
}

function CommandPalette({ open, onOpenChange }: { open: boolean; onOpenChange: (open: boolean) => void }) {
  const router = useRouter();
  const dark = useDark();
  const run = (action: () => void) => {
    onOpenChange(false);
    action();
  };
  return (
    <Dialog open={open} onOpenChange={onOpenChange}>
      <DialogContent title="Command palette" description="Type a command or a page to go to.">
        <Command label="Commands" className="flex flex-col gap-2">
          <Command.Input
            autoFocus
            aria-label="Command"
            placeholder="Go to…"
            className="h-9 w-full rounded-md border border-border bg-background px-3 text-sm"
          />
          <Command.List className="max-h-72 overflow-y-auto">
            <Command.Empty className="p-2 text-sm text-muted-foreground">Nothing matches.</Command.Empty>
            <Command.Group heading="Go to" className="text-xs text-muted-foreground">
              {NAVIGATION.map((entry) => (
                <Command.Item
                  key={entry.href}
                  onSelect={() => run(() => router.push(entry.href))}
                  className="cursor-pointer rounded px-2 py-1.5 text-sm text-foreground data-[selected=true]:bg-accent"
                >
                  {entry.label}
                </Command.Item>
              ))}
              <Command.Item
                onSelect={() => run(() => router.push("/account/sessions"))}
                className="cursor-pointer rounded px-2 py-1.5 text-sm text-foreground data-[selected=true]:bg-accent"
              >
                Sessions
              </Command.Item>
            </Command.Group>
            <Command.Group heading="Actions" className="text-xs text-muted-foreground">
              <Command.Item
                onSelect={() => run(() => router.push("/planning?new=1"))}
                className="cursor-pointer rounded px-2 py-1.5 text-sm text-foreground data-[selected=true]:bg-accent"
              >
                Create a project
              </Command.Item>
              <Command.Item
                onSelect={() => run(() => setTheme(dark ? "light" : "dark"))}
                className="cursor-pointer rounded px-2 py-1.5 text-sm text-foreground data-[selected=true]:bg-accent"
              >
                Switch to the {dark ? "light" : "dark"} theme
              </Command.Item>
              <Command.Item
                onSelect={() => run(() => void signOut().then(() => router.replace("/sign-in")))}
                className="cursor-pointer rounded px-2 py-1.5 text-sm text-foreground data-[selected=true]:bg-accent"
              >
                Sign out
              </Command.Item>
            </Command.Group>
          </Command.List>
        </Command>
      </DialogContent>
    </Dialog>
  );
}

/** The signed-in frame: sidebar, organization switcher, command palette (⌘K / Ctrl+K). A
 * browser without a session (or whose refresh was refused) is sent to sign in. */
export function AppShell({ children }: { children: ReactNode }) {
  const { session, ready } = useSession();
  const router = useRouter();
  const pathname = usePathname();
  const [palette, setPalette] = useState(false);

  useEffect(() => {
    if (ready && !session) router.replace(`/sign-in?next=${encodeURIComponent(pathname)}`);
  }, [ready, session, router, pathname]);

  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if ((event.metaKey || event.ctrlKey) && event.key.toLowerCase() === "k") {
        event.preventDefault();
        setPalette((open) => !open);
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);

  if (!session) {
    return (
      <main className="flex min-h-screen items-center justify-center">
        <p className="text-sm text-muted-foreground">Loading…</p>
      </main>
    );
  }
  return (
    <div className="flex min-h-screen">
      <aside className="flex w-60 shrink-0 flex-col gap-4 border-r border-border bg-muted p-4">
        <p className="text-lg font-semibold">Coder</p>
        <OrganizationSwitcher />
        <nav aria-label="Services" className="flex flex-col gap-1">
          {NAVIGATION.map(({ href, label, icon: Icon }) => (
            <Link
              key={href}
              href={href}
              aria-current={pathname.startsWith(href) ? "page" : undefined}
              className={cn(
                "flex items-center gap-2 rounded-md px-2 py-1.5 text-sm hover:bg-accent",
                pathname.startsWith(href) && "bg-accent font-medium",
              )}
            >
              <Icon className="h-4 w-4" aria-hidden />
              {label}
            </Link>
          ))}
        </nav>
        <div className="mt-auto flex flex-col gap-2">
          <Button variant="secondary" onClick={() => setPalette(true)} className="justify-start">
            <Search className="h-4 w-4" aria-hidden /> Commands <kbd className="ml-auto text-xs">⌘K</kbd>
          </Button>
          <div className="flex items-center justify-between">
            <span className="truncate text-xs text-muted-foreground">{session.user.email}</span>
            <ThemeToggle />
          </div>
          <Button variant="ghost" onClick={() => void signOut().then(() => router.replace("/sign-in"))}>
            <LogOut className="h-4 w-4" aria-hidden /> Sign out
          </Button>
        </div>
      </aside>
      <main className="min-w-0 flex-1 p-6">{children}</main>
      <CommandPalette open={palette} onOpenChange={setPalette} />
    </div>
  );
}
