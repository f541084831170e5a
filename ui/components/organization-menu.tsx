"use client";
import { useQueryClient } from "@tanstack/react-query";
import { ChevronsUpDown } from "lucide-react";
import { useRouter } from "next/navigation";
import { useOrganizations } from "./organization-menu-query";
import { switchOrganization } from "@/lib/session";
import { toast } from "./errors";
import { Button } from "./ui/button";
import { DropdownMenu, DropdownMenuContent, DropdownMenuItem, DropdownMenuTrigger } from "./ui/menu";

/** The organization switcher's menu, loaded the first time the switcher is used. */
export default function OrganizationMenu({ currentName }: { currentName: string }) {
  const organizations = useOrganizations();
  const client = useQueryClient();
  const router = useRouter();
  const memberships = organizations.data?.memberships ?? [];
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
    // Not modal: a modal menu hides the rest of the page from assistive technology while the
    // sidebar's links stay focusable behind it.
    <DropdownMenu defaultOpen modal={false}>
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
