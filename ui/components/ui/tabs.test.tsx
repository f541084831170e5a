import { fireEvent, render, screen } from "@testing-library/react";
import { useState } from "react";
import { describe, expect, it } from "vitest";
import { Tabs, TabsContent, TabsList, TabsTrigger } from "./tabs";

function Views() {
  const [view, setView] = useState("board");
  return (
    <Tabs value={view} onValueChange={setView}>
      <TabsList aria-label="View">
        <TabsTrigger value="board">Board</TabsTrigger>
        <TabsTrigger value="list">List</TabsTrigger>
        <TabsTrigger value="chart">Chart</TabsTrigger>
      </TabsList>
      <TabsContent value="board">the board</TabsContent>
      <TabsContent value="list">the list</TabsContent>
      <TabsContent value="chart">the chart</TabsContent>
    </Tabs>
  );
}

describe("tabs", () => {
  it("show the selected tab's panel only, labelled by its tab", () => {
    render(<Views />);
    const board = screen.getByRole("tab", { name: "Board" });
    expect(board).toHaveAttribute("aria-selected", "true");
    expect(board).toHaveAttribute("tabindex", "0");
    expect(screen.getByRole("tab", { name: "List" })).toHaveAttribute("tabindex", "-1");
    expect(screen.getByRole("tabpanel", { name: "Board" })).toHaveTextContent("the board");
    expect(screen.getByRole("tabpanel")).toHaveAttribute("id", board.getAttribute("aria-controls"));
    expect(screen.queryByText("the list")).toBeNull();

    fireEvent.click(screen.getByRole("tab", { name: "List" }));
    expect(screen.getByRole("tabpanel", { name: "List" })).toHaveTextContent("the list");
    expect(screen.getByRole("tab", { name: "Board" })).toHaveAttribute("aria-selected", "false");
  });

  it("move and show with the arrow keys, Home and End, wrapping round", () => {
    render(<Views />);
    const list = screen.getByRole("tablist", { name: "View" });
    screen.getByRole("tab", { name: "Board" }).focus();
    fireEvent.keyDown(document.activeElement ?? list, { key: "ArrowLeft" });
    expect(document.activeElement).toBe(screen.getByRole("tab", { name: "Chart" }));
    expect(screen.getByRole("tabpanel")).toHaveTextContent("the chart");
    fireEvent.keyDown(document.activeElement ?? list, { key: "ArrowRight" });
    expect(screen.getByRole("tabpanel")).toHaveTextContent("the board");
    fireEvent.keyDown(document.activeElement ?? list, { key: "End" });
    expect(screen.getByRole("tabpanel")).toHaveTextContent("the chart");
    fireEvent.keyDown(document.activeElement ?? list, { key: "Home" });
    expect(document.activeElement).toBe(screen.getByRole("tab", { name: "Board" }));
    fireEvent.keyDown(document.activeElement ?? list, { key: "x" });
    expect(screen.getByRole("tabpanel")).toHaveTextContent("the board");
  });
});
