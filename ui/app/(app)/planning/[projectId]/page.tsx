import type { Metadata } from "next";
import { ProjectPage } from "@/components/planning/project-page";

export const metadata: Metadata = { title: "Project" };

export default async function Page({
  params,
  searchParams,
}: {
  params: Promise<{ projectId: string }>;
  searchParams: Promise<{ task?: string | string[] }>;
}) {
  const { projectId } = await params;
  const { task } = await searchParams;
  return <ProjectPage projectId={projectId} linkedTaskId={typeof task === "string" ? task : undefined} />;
}
