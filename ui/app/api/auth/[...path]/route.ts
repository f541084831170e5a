import { type NextRequest, NextResponse } from "next/server";
import {
  endSession,
  errorJson,
  foreign,
  oidcCallback,
  oidcLogin,
  oidcProviders,
  spendRefreshToken,
  startSession,
} from "@/lib/bff";

export const dynamic = "force-dynamic";

type Context = { params: Promise<{ path: string[] }> };

export async function POST(request: NextRequest, context: Context): Promise<NextResponse> {
  const refused = foreign(request);
  if (refused) return refused;
  const route = (await context.params).path.join("/");
  switch (route) {
    case "login":
      return startSession("/auth/login", request);
    case "register":
      return startSession("/auth/register", request);
    case "invitations/accept":
      return startSession("/auth/invitations/accept", request);
    case "refresh":
      return spendRefreshToken("/auth/refresh", request);
    case "switch-organization": {
      const body = (await request.json().catch(() => ({}))) as Record<string, unknown>;
      return spendRefreshToken("/auth/switch-organization", request, {
        organizationId: body.organizationId ?? "",
        createOrganizationName: body.createOrganizationName ?? "",
      });
    }
    case "logout":
      return endSession(request);
    default:
      return errorJson(404, `no route /api/auth/${route}`, "ROUTE_NOT_FOUND");
  }
}

export async function GET(request: NextRequest, context: Context): Promise<NextResponse> {
  const [first, provider, step, ...rest] = (await context.params).path;
  if (first === "providers" && provider === undefined) {
    return NextResponse.json({ providers: oidcProviders() }, { headers: { "cache-control": "no-store" } });
  }
  if (first === "oidc" && provider && rest.length === 0 && oidcProviders().includes(provider)) {
    if (step === "login") return oidcLogin(provider, request);
    if (step === "callback") return oidcCallback(provider, request);
  }
  return errorJson(404, "no such route", "ROUTE_NOT_FOUND");
}
