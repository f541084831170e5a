import { BarChart3, Bell, BookOpen, Bot, Boxes, Building2, FileText, KanbanSquare, KeyRound, Plug, UserRound } from "lucide-react";

/** One entry per service the suite serves; a service gets its entry when its pages land. */
export const NAVIGATION = [
  { href: "/planning", label: "Planning", icon: KanbanSquare },
  { href: "/ai", label: "AI", icon: Bot },
  { href: "/prompts", label: "Prompts", icon: FileText },
  { href: "/secrets", label: "Secrets", icon: KeyRound },
  { href: "/usage", label: "Usage", icon: BarChart3 },
  { href: "/notifications", label: "Notifications", icon: Bell },
  { href: "/knowledge", label: "Knowledge", icon: BookOpen },
  { href: "/embeddings", label: "Embeddings", icon: Boxes },
  { href: "/mcp", label: "MCP", icon: Plug },
  { href: "/settings/organization", label: "Organization", icon: Building2 },
  { href: "/account", label: "My account", icon: UserRound },
] as const;
