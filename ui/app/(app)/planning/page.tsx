import type { Metadata } from "next";
import { Suspense } from "react";
import { ProjectList } from "@/components/planning/projects";

export const metadata: Metadata = { title: "Projects" };

export default function Page() {
  return (
    <Suspense>
      <ProjectList />
    </Suspense>
  );
}
