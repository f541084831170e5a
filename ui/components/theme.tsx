"use client";
import { Moon, Sun } from "lucide-react";
import { useSyncExternalStore } from "react";
import { Button } from "./ui/button";

export const THEME_KEY = "coder-theme";

/** Runs before the page paints (inline, with the CSP nonce), so there is no flash of the
 * wrong theme: the stored choice, else the system's. */
export const THEME_SCRIPT = `(function(){try{var t=localStorage.getItem("${THEME_KEY}");var d=t?t==="dark":matchMedia("(prefers-color-scheme: dark)").matches;document.documentElement.classList.toggle("dark",d)}catch(e){}})()`;

const listeners = new Set<() => void>();

function isDark(): boolean {
  return document.documentElement.classList.contains("dark");
}

export function setTheme(theme: "light" | "dark"): void {
  localStorage.setItem(THEME_KEY, theme);
  document.documentElement.classList.toggle("dark", theme === "dark");
  for (const listener of listeners) listener();
}

export function useDark(): boolean {
  return useSyncExternalStore(
    (callback) => {
      listeners.add(callback);
      return () => listeners.delete(callback);
    },
    isDark,
    () => false,
  );
}

export function ThemeToggle() {
  const dark = useDark();
  return (
    <Button
      variant="ghost"
      size="icon"
      aria-label={dark ? "Use the light theme" : "Use the dark theme"}
      onClick={() => setTheme(dark ? "light" : "dark")}
    >
      {dark ? <Sun className="h-4 w-4" aria-hidden /> : <Moon className="h-4 w-4" aria-hidden />}
    </Button>
  );
}
