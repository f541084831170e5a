import { NextResponse } from "next/server";

export const dynamic = "force-dynamic";

/** What `coder dev`'s supervisor polls to know the server is up. */
export function GET(): NextResponse {
  return NextResponse.json({ status: "ok" }, { headers: { "cache-control": "no-store" } });
}
