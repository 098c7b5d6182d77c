// The JSON the API answers with, in Heroku Platform API shapes where they fit (snake_case, nested
// {name}/{version} references, ISO times). Config var values appear only in config-vars answers.
import type { AppMetadata, Domain, Formation, Release } from "../app_store";
import type { CliSettings } from "../cli/context";
import type { DynoStatus } from "../fleet";
import type { Schema } from "./route";

export function appJson(app: AppMetadata, settings: Omit<CliSettings, "user">, current: Release | undefined, maintenance: boolean) {
    return {
        id: app.id,
        name: app.name,
        created_at: app.createdAt,
        released_at: current?.createdAt ?? null,
        updated_at: current?.updatedAt ?? app.createdAt,
        stack: { name: app.stack },
        build_stack: { name: app.stack },
        maintenance,
        web_url: settings.webUrl(app.name),
        git_url: settings.gitUrl(app.name),
        slug_size: current?.slug.size ?? null,
    };
}

export function formationJson(app: string, formation: Formation, processTypes: Record<string, string>) {
    return Object.entries(formation).map(([type, f]) => ({ app: { name: app }, type, quantity: f.quantity, size: f.size, command: processTypes[type] ?? null }));
}

export function dynoJson(app: string, d: DynoStatus) {
    return { app: { name: app }, name: d.name, type: d.type, state: d.state, command: d.command, size: d.size, release: { version: d.release }, host: d.host ?? null, updated_at: d.since.toISOString() };
}

/** Never the release's config vars: a release list is not where secrets are read. */
export function releaseJson(app: string, r: Release, current: number | undefined) {
    return {
        app: { name: app },
        version: r.version,
        description: r.description,
        status: r.status,
        current: r.version === current,
        created_at: r.createdAt,
        updated_at: r.updatedAt,
        user: { email: r.user ?? null },
        slug: { id: r.slug.sha256, size: r.slug.size },
        commit: r.commit,
        ...(r.reason ? { reason: r.reason } : {}),
    };
}

export function domainJson(app: string, d: Domain, target: string | undefined) {
    return { app: { name: app }, hostname: d.hostname, kind: d.kind === "default" ? "heroku" : "custom", cname: d.kind === "custom" ? (target ?? null) : null, created_at: d.createdAt };
}

const str = { type: "string" };
const ref = (props: Record<string, Schema>): Schema => ({ type: "object", properties: props });

export const SCHEMAS: Record<string, Schema> = {
    app: ref({ id: str, name: str, created_at: str, released_at: { type: "string", nullable: true }, updated_at: str, stack: ref({ name: str }), maintenance: { type: "boolean" }, web_url: str, git_url: str, slug_size: { type: "integer", nullable: true } }),
    formation: ref({ app: ref({ name: str }), type: str, quantity: { type: "integer", minimum: 0, maximum: 100 }, size: str, command: { type: "string", nullable: true } }),
    dyno: ref({ app: ref({ name: str }), name: str, type: str, state: { type: "string", enum: ["starting", "up", "crashed", "down", "idle"] }, command: str, size: str, release: ref({ version: { type: "integer" } }), host: { type: "string", nullable: true }, updated_at: str }),
    release: ref({ app: ref({ name: str }), version: { type: "integer" }, description: str, status: { type: "string", enum: ["pending", "succeeded", "failed"] }, current: { type: "boolean" }, created_at: str, updated_at: str, user: ref({ email: str }), slug: ref({ id: str, size: { type: "integer" } }), commit: { type: "string", nullable: true } }),
    domain: ref({ app: ref({ name: str }), hostname: str, kind: { type: "string", enum: ["heroku", "custom"] }, cname: { type: "string", nullable: true }, created_at: str }),
    config_vars: { type: "object", additionalProperties: { type: "string" } },
    build: ref({ id: str, app: ref({ name: str }), status: { type: "string", enum: ["pending", "succeeded", "failed"] }, output_stream_url: str, source_blob: ref({ url: { type: "string", nullable: true }, version: { type: "string", nullable: true } }), release: { type: "object", nullable: true, properties: { version: { type: "integer" } } }, user: ref({ email: str }), created_at: str, updated_at: str }),
    log_session: ref({ id: str, logplex_url: str, created_at: str }),
    error: ref({ id: { type: "string", enum: ["bad_request", "unauthorized", "forbidden", "not_found", "invalid_params", "rate_limit", "payload_too_large", "requested_range_not_satisfiable", "service_unavailable", "internal_error"] }, message: str }),
};

export const listOf = (name: string): Schema => ({ type: "array", items: { $ref: `#/components/schemas/${name}` } });
export const one = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
