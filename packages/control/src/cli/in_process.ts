// A verb's context when something in the control service runs it for a signed-in user (the REST
// API, the dashboard): the same store, fleet and settings as over SSH, the user named in releases
// and `app[api]` lines, and the verb's lines handed to the caller instead of a terminal.
import type { AppStore } from "../app_store";
import type { BuildUsers } from "../build_users";
import type { Fleet } from "../fleet";
import type { CliContext, CliSettings } from "./context";

export interface InProcessDeps {
    store: AppStore;
    fleet: Fleet;
    settings: Omit<CliSettings, "user">;
    now?: () => Date;
    /** Name for apps:create without one; without it such a create is refused. */
    randomName?: () => string;
    buildUsers?: BuildUsers;
}

/** Where the verb's lines go: stdout (`out`), progress and errors (`err`). */
export interface LineSink {
    out(line: string): void;
    err(line: string): void;
    /** Settles once the reader has taken what was written (a streaming reader, e.g. a live log view). */
    drained?(): Promise<void>;
}

export function inProcessContext(deps: InProcessDeps, user: string, sink: LineSink): CliContext {
    return {
        store: deps.store,
        fleet: deps.fleet,
        settings: { ...deps.settings, user },
        out: (l) => sink.out(l),
        err: (l) => sink.err(l),
        ...(sink.drained ? { drained: () => sink.drained!() } : {}),
        writeStdout: () => undefined,
        writeStderr: () => undefined,
        now: deps.now ?? (() => new Date()),
        randomName:
            deps.randomName ??
            (() => {
                throw new Error("apps:create needs a name here");
            }),
        ...(deps.buildUsers ? { buildUsers: deps.buildUsers } : {}),
    };
}
