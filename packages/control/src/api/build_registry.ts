// The builds the API started, in memory: each one's record and its output lines, so the
// output_stream_url can replay what was printed and follow what is still coming. A restart forgets
// them (their releases stay in the store); the oldest finished ones go beyond MAX_BUILDS.
import { randomUUID } from "node:crypto";

export const MAX_BUILDS = 200;
/** A build's kept output: beyond it the oldest lines go (a build log rarely comes near). */
const MAX_LINES = 20_000;

export type BuildStatus = "pending" | "succeeded" | "failed";

export interface Build {
    id: string;
    app: string;
    user: string;
    status: BuildStatus;
    sourceUrl?: string;
    version?: string;
    release?: number;
    createdAt: string;
    updatedAt: string;
    lines: string[];
}

export class BuildRegistry {
    private readonly builds = new Map<string, Build>();
    private readonly listeners = new Map<string, Set<() => void>>();

    constructor(private readonly now: () => Date = () => new Date()) {}

    start(app: string, user: string, source: { url?: string; version?: string }): Build {
        const at = this.now().toISOString();
        const build: Build = { id: randomUUID(), app, user, status: "pending", ...(source.url ? { sourceUrl: source.url } : {}), ...(source.version ? { version: source.version } : {}), createdAt: at, updatedAt: at, lines: [] };
        this.builds.set(build.id, build);
        this.prune();
        return build;
    }

    get(id: string): Build | undefined {
        return this.builds.get(id);
    }

    line(build: Build, line: string): void {
        build.lines.push(line);
        if (build.lines.length > MAX_LINES) build.lines.splice(0, build.lines.length - MAX_LINES);
        this.notify(build.id);
    }

    finish(build: Build, status: Exclude<BuildStatus, "pending">, release?: number): void {
        build.status = status;
        build.updatedAt = this.now().toISOString();
        if (release !== undefined) build.release = release;
        this.notify(build.id);
    }

    /** Calls `fn` on each new line and at the end; returns the unsubscribe. */
    watch(id: string, fn: () => void): () => void {
        const set = this.listeners.get(id) ?? new Set();
        set.add(fn);
        this.listeners.set(id, set);
        return () => set.delete(fn);
    }

    private notify(id: string): void {
        for (const fn of this.listeners.get(id) ?? []) fn();
    }

    private prune(): void {
        for (const [id, b] of this.builds) {
            if (this.builds.size <= MAX_BUILDS) break;
            if (b.status !== "pending") {
                this.builds.delete(id);
                this.listeners.delete(id);
            }
        }
    }
}
