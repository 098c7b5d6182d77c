// What the API server is given: the same store and fleet the CLI verbs use, the account store that
// says who is asking and what they may do, and how a build is deployed (serve.ts wires the real ones).
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Accounts } from "../accounts/principal";
import type { AppStore } from "../app_store";
import type { BuildSource } from "../build_sandbox";
import type { BuildUsers } from "../build_users";
import type { CliSettings } from "../cli/context";
import type { Fleet } from "../fleet";
import type { SourcePolicy } from "./source_blob_fetch";

/** Builds `source` and releases it as `commit` (deployPush); lines are the push's output. False: the build or release was rejected (the lines say why). */
export type DeploySource = (app: string, source: BuildSource, commit: string, user: string, out: (line: string) => void) => Promise<boolean>;

export interface ApiDeps {
    store: AppStore;
    fleet: Fleet;
    accounts: Accounts;
    /** The platform domain and the apps' URLs (no user: each request's principal is the user). */
    settings: Omit<CliSettings, "user">;
    deploy: DeploySource;
    randomName(): string;
    buildUsers?: BuildUsers;
    now?: () => Date;
    /** Requests per token per hour (default Heroku's 4500). */
    requestsPerHour?: number;
    /** Where the server reports what its callers cannot fix (internal errors, a failed audit write): the unit's journal. */
    log?: (line: string) => void;
    /** The web dashboard, answering the requests whose Host is dashboard.<domain> (the same port, the same edge block). */
    dashboard?: (req: IncomingMessage, res: ServerResponse) => void;
    /** Largest source tarball a build upload may send, in bytes (default 100 MiB, as the edge's client_max_body_size). */
    uploadLimit?: number;
    /** Where a build's source_blob.url may be fetched from (default: public addresses only, by the system's resolver). */
    sourcePolicy?: SourcePolicy;
}
