"use client";
import { ChevronsUpDown, LogOut, Search } from "lucide-react";
import dynamic from "next/dynamic";
import Link from "next/link";
import { usePathname, useRouter } from "next/navigation";
import { type ReactNode, useEffect, useState } from "react";
import { signOut } from "@/lib/session";
import { NAVIGATION } from "./navigation";
import { NotificationBell } from "./notifications/bell";
import { useOrganizations } from "./organization-menu-query";
import { useSession } from "./providers";
import { ThemeToggle } from "./theme";
import { Button } from "./ui/button";
import { cn } from "./ui/cn";

const CommandPalette = dynamic(() => import("./command-palette"), { ssr: false });
const OrganizationMenu = dynamic(() => import("./organization-menu"), { ssr: false });

export { NAVIGATION };

/** The switcher as a plain button until it is first used; its menu (Radix, with its
 * positioning code) is a chunk of its own, out of every page's first load. */
function OrganizationSwitcher() {
  const { session } = useSession();
  const [menu, setMenu] = useState(false);
  const organizations = useOrganizations();
  const currentName =
    organizations.data?.memberships?.find((m) => m.organization?.id === session?.organizationId)?.organization?.name ??
    "Organization";
  if (menu) return <OrganizationMenu currentName={currentName} />;
  return (
    <Button
      variant="secondary"
      className="w-full justify-between"
      aria-label={`Organization: ${currentName}`}
      aria-haspopup="menu"
      onClick={() => setMenu(true)}
      onKeyDown={(e) => {
        if (e.key === "ArrowDown" || e.key === "Enter" || e.key === " ") {
          e.preventDefault();
          setMenu(true);
        }
      }}
    >
      <span className="truncate">{currentName}</span>
      <ChevronsUpDown className="h-4 w-4" aria-hidden />
    </Button>
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
        <div className="flex items-center justify-between">
          <p className="text-lg font-semibold">Coder</p>
          <NotificationBell />
        </div>
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
      {palette ? <CommandPalette open onOpenChange={setPalette} /> : null}
    </div>
  );
}
