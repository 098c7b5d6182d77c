import { byHost, onDrained, place, placeable } from "../src/placement";

const f = (web: number, worker = 0) => ({ web: { quantity: web, size: "standard-1x" }, worker: { quantity: worker, size: "standard-1x" } });

test("each process type spreads across the live hosts", () => {
    const p = place(f(3, 1), ["a", "b"]);
    expect(byHost(p, ["a", "b"])).toEqual({ a: ["web.1", "web.3"], b: ["web.2", "worker.1"] });
    expect(Object.keys(place(f(2, 1), ["a"]))).toEqual(["web.1", "web.2", "worker.1"]);
});

test("sticky: scaling keeps dynos where they are", () => {
    const p1 = place(f(1), ["a", "b"]);
    const p2 = place(f(3), ["a", "b"], p1);
    expect(p2["web.1"]).toBe(p1["web.1"]);
    expect(Object.values(p2).filter((h) => h === "a")).toHaveLength(2);
});

test("dynos of a host that stopped answering move to the others; it gets none back when it returns while the others are within the cap", () => {
    const p1 = place(f(3), ["a", "b"]);
    const p2 = place(f(3), ["a"], p1);
    expect(Object.values(p2)).toEqual(["a", "a", "a"]);
    const p3 = place(f(3), ["a", "b"], p2);
    expect(byHost(p3, ["a", "b"]).b.length).toBe(1); // the cap (2) moves one back
    expect(place(f(2), [], p1)).toEqual({});
});

test("a drained host is not placeable: its dynos go to the others, and it gets none while drained", () => {
    const p1 = place(f(2, 1), ["a", "b"]);
    const drained = new Set(["b"]);
    expect(placeable(["a", "b", "c"], drained)).toEqual(["a", "c"]);
    expect(onDrained(p1, drained).sort()).toEqual(Object.keys(p1).filter((d) => p1[d] === "b").sort());
    const p2 = place(f(3, 1), placeable(["a", "b"], drained), p1);
    expect(new Set(Object.values(p2))).toEqual(new Set(["a"]));
    expect(onDrained(p2, drained)).toEqual([]);
    expect(placeable(["b"], drained)).toEqual([]);
});
