"use client";
import { Command } from "cmdk";
import { useRouter } from "next/navigation";
import { NAVIGATION } from "./navigation";
import { signOut } from "@/lib/session";
import { setTheme, useDark } from "./theme";
import { Dialog, DialogContent } from "./ui/dialog";

/** ⌘K: go to any page or run an action by typing. Loaded the first time it opens. */
export default function CommandPalette({ open, onOpenChange }: { open: boolean; onOpenChange: (open: boolean) => void }) {
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
