import { SCOPES } from "@/lib/secrets";

/** The secret scopes as a select's options. */
export function ScopeOptions() {
  return (
    <>
      {SCOPES.map((s) => (
        <option key={s.value} value={s.value}>
          {s.label}
        </option>
      ))}
    </>
  );
}
