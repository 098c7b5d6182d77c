// The web dashboard at dashboard.<domain>: one node:http handler the control role's server mounts
// behind the edge's nginx (TLS). Pages are rendered here (html.ts escapes every value), forms POST
// and answer with a redirect (Post/Redirect/Get), and a small script adds the live parts.
//
//   GET  /sign-in, POST /sign-in, POST /sign-out       the session (sessions.ts)
//   GET  /apps                                         the apps the user may see
//   GET  /apps/<app>[?reveal=KEY]                      the app page (app_page.ts)
//   GET  /apps/<app>/charts                            the charts alone (the script refreshes them)
//   GET  /apps/<app>/config-vars/<KEY>                 one value, as JSON (the script's reveal)
//   GET  /apps/<app>/logs, /apps/<app>/logs/stream     recent lines; the live view (live_logs.ts)
//   POST /apps/<app>/<action>                          a change (actions.ts)
//   GET  /platform                                     hosts, services, load (administrators)
//
// An app the user may not read is answered exactly as an app that does not exist: 404.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Accounts, Principal } from "../accounts/principal";
import { appNameProblem, AppMetadata, AppStore } from "../app_store";
import type { BuildUsers } from "../build_users";
import type { CliSettings } from "../cli/context";
import { logs } from "../cli/dynos";
import { Fleet, unconfiguredFleet } from "../fleet";
import { ACTIONS } from "./actions";
import { appBody, loadAppView } from "./app_page";
import { appsBody, appSummaries } from "./apps_page";
import { ICON, SCRIPT, STYLESHEET } from "./assets";
import { appCharts } from "./charts";
import { HttpProblem, isTls, parseCookies, readForm, redirect, sendHtml, sendJson, sendText, setCookie } from "./http_io";
import { page, problemPage } from "./layout";
import { streamLogs } from "./live_logs";
import type { MetricsHistory } from "./metrics_history";
import { platformBody, PlatformView } from "./platform_page";
import type { ServiceStatus } from "./service_probes";
import { csrfMatches, Session, Sessions } from "./sessions";
import { clientAddress, SignInLimiter } from "./sign_in_limiter";
import { signInPage } from "./sign_in_page";
import { runVerb, VerbDeps } from "./verb_runner";

export interface DashboardDeps {
    accounts: Accounts;
    store: AppStore;
    /** The dyno hosts, routers and log router; without one the pages show no dynos and changes that need hosts say so. */
    fleet?: Fleet;
    /** The platform domain and each app's git and web URLs, as the verbs have them (control_config.ts cliSettings). */
    settings: Omit<CliSettings, "user">;
    now(): Date;
    /** The routers' counters over the last hour (charts, load); none: the pages say so. */
    metrics?: MetricsHistory;
    /** The services' health for the platform page (service_probes.ts). */
    services?: () => Promise<ServiceStatus[]>;
    buildUsers?: BuildUsers;
    /** Where failures of the dashboard itself are told (never a token or a config value). */
    log?(line: string): void;
}

export type DashboardHandler = (req: IncomingMessage, res: ServerResponse) => void;

/** Live log views one session may hold open at once (each holds a stream to the log router). */
export const MAX_STREAMS_PER_SESSION = 4;

/** Over TLS the cookie takes the __Host- prefix: the browser then keeps it to this host, Secure, on Path=/. */
function cookieName(secure: boolean): string {
    return secure ? "__Host-dynoform_session" : "dynoform_session";
}

interface Signed {
    session: Session;
    principal: Principal;
}

function hostOf(url: string): string {
    try {
        return new URL(url).host;
    } catch {
        return url;
    }
}

const NOT_FOUND = (app: string) => `Couldn't find that app: ${app}. It does not exist, or you have no access to it; see your apps on the Apps page.`;

export function createDashboardHandler(deps: DashboardDeps): DashboardHandler {
    const sessions = new Sessions(deps.now);
    const limiter = new SignInLimiter(deps.now);
    const fleet = deps.fleet ?? unconfiguredFleet();
    const verbDeps: VerbDeps = { store: deps.store, fleet, settings: deps.settings, now: deps.now, ...(deps.buildUsers ? { buildUsers: deps.buildUsers } : {}) };
    const log = deps.log ?? ((l: string) => process.stderr.write(`dashboard: ${l}\n`));

    async function signedIn(req: IncomingMessage, res: ServerResponse): Promise<Signed | undefined> {
        const secure = isTls(req);
        const session = sessions.get(parseCookies(req.headers.cookie).get(cookieName(secure)));
        if (!session) return undefined;
        // Asked at every request: a revoked or expired token ends the session at once.
        const principal = await deps.accounts.principalForToken(session.token);
        if (!principal) {
            sessions.end(session.id);
            setCookie(res, cookieName(secure), undefined, secure);
            return undefined;
        }
        session.principal = principal;
        return { session, principal };
    }

    /** The app when it exists and `principal` may read it; else undefined (the caller answers 404). */
    async function readableApp(principal: Principal, name: string): Promise<AppMetadata | undefined> {
        if (appNameProblem(name)) return undefined;
        const app = await deps.store.getApp(name);
        if (!app || !(await deps.accounts.can(principal, name, "read"))) return undefined;
        return app;
    }

    function frame(s: Signed, title: string) {
        const flash = sessions.takeFlash(s.session);
        return { title, principal: s.principal, csrf: s.session.csrf, ...(flash ? { flash } : {}) };
    }

    function problem(res: ServerResponse, s: Signed | undefined, status: number, heading: string, message: string): void {
        sendHtml(res, status, problemPage(s ? { title: heading, principal: s.principal, csrf: s.session.csrf } : { title: heading }, heading, message));
    }

    /** A POST from another site's page is refused whatever it carries (the CSRF token is the main check). */
    function foreignOrigin(req: IncomingMessage): boolean {
        const origin = req.headers.origin;
        if (origin === undefined) return false;
        try {
            return new URL(origin).host !== req.headers.host;
        } catch {
            return true;
        }
    }

    async function signIn(req: IncomingMessage, res: ServerResponse): Promise<void> {
        const client = clientAddress(req);
        const wait = limiter.retryAfter(client);
        if (wait > 0) {
            res.setHeader("Retry-After", String(wait));
            return sendHtml(res, 429, signInPage(`Too many failed sign-ins from your address: try again in ${wait} s`));
        }
        const form = await readForm(req);
        const token = (form.get("token") ?? "").trim();
        if (!token) return sendHtml(res, 400, signInPage("Paste an API token: create one with dynoform authorizations:create"));
        const principal = await deps.accounts.principalForToken(token);
        if (!principal) {
            limiter.failed(client);
            return sendHtml(res, 401, signInPage("That API token is not valid: it may be mistyped, revoked or expired. Create a new one with dynoform authorizations:create"));
        }
        const secure = isTls(req);
        // A fresh id at every sign-in: an id planted before it is worth nothing after.
        const old = sessions.get(parseCookies(req.headers.cookie).get(cookieName(secure)));
        if (old) sessions.end(old.id);
        const session = sessions.create(principal, token);
        setCookie(res, cookieName(secure), session.id, secure);
        redirect(res, "/apps");
    }

    async function appsPage(res: ServerResponse, s: Signed): Promise<void> {
        const visible = await deps.accounts.visibleApps(s.principal, await deps.store.listApps());
        const apps = await appSummaries(deps.store, visible, deps.settings.webUrl);
        sendHtml(res, 200, page(frame(s, "Apps"), appsBody(apps)));
    }

    function chartData(app: string) {
        return { sampled: deps.metrics !== undefined, points: deps.metrics?.series(app) ?? [] };
    }

    async function appPage(res: ServerResponse, s: Signed, app: AppMetadata, url: URL): Promise<void> {
        const reveal = url.searchParams.get("reveal");
        const view = await loadAppView(deps.store, fleet, app, {
            webUrl: deps.settings.webUrl(app.name),
            gitUrl: deps.settings.gitUrl(app.name),
            canOperate: await deps.accounts.can(s.principal, app.name, "operate"),
            charts: chartData(app.name),
            now: deps.now(),
            ...(reveal !== null ? { reveal } : {}),
        });
        sendHtml(res, 200, page(frame(s, app.name), appBody(view, s.session.csrf)));
    }

    async function platformPage(res: ServerResponse, s: Signed): Promise<void> {
        if (!s.principal.admin) return problem(res, s, 403, "Administrators only", "The platform page shows every host and service: only administrators see it.");
        const view: PlatformView = { hosts: [] };
        try {
            view.hosts = await fleet.hosts();
        } catch (err) {
            view.hostsProblem = `The dyno hosts did not answer: ${(err as Error).message}`;
        }
        // The routers answer the metrics sampler or not: that is their health as the dashboard sees it.
        const routers: ServiceStatus[] = (deps.metrics?.routers() ?? []).map((r) => ({ name: "dynoform-router (metrics)", where: hostOf(r.url), state: r.answered ? "up" : "down", ...(r.answered ? {} : { detail: "did not answer the last sample" }) }));
        if (deps.services || routers.length > 0) view.services = [...(deps.services ? await deps.services() : []), ...routers];
        if (deps.metrics) view.load = deps.metrics.load();
        sendHtml(res, 200, page(frame(s, "Platform"), platformBody(view)));
    }

    async function recentLogs(res: ServerResponse, s: Signed, app: string): Promise<void> {
        const lines: string[] = [];
        const outcome = await runVerb(verbDeps, s.principal.user, logs, app, [], { num: "200" }, { out: (l) => lines.push(l) });
        sendText(res, outcome.ok ? 200 : 502, "text/plain; charset=utf-8", (outcome.ok ? lines : outcome.lines).join("\n") + "\n");
    }

    async function liveLogs(res: ServerResponse, s: Signed, app: string): Promise<void> {
        if (s.session.streams >= MAX_STREAMS_PER_SESSION) return sendText(res, 429, "text/plain; charset=utf-8", `${MAX_STREAMS_PER_SESSION} live log views are open already: close one first\n`);
        s.session.streams++;
        try {
            await streamLogs(verbDeps, s.principal.user, app, res);
        } finally {
            s.session.streams--;
        }
    }

    async function act(req: IncomingMessage, res: ServerResponse, s: Signed, app: string, actionPath: string): Promise<void> {
        const action = ACTIONS[actionPath];
        if (!action) return problem(res, s, 404, "No such page", `The dashboard has no form at /apps/${app}/${actionPath}.`);
        const form = await readForm(req);
        if (!csrfMatches(s.session, form.get("_csrf"))) return problem(res, s, 403, "Form expired", "The form was not from this session of the dashboard (its CSRF token did not match), so nothing was changed: reload the page and try again.");
        if (!(await readableApp(s.principal, app))) return problem(res, s, 404, "App not found", NOT_FOUND(app));
        if (!(await deps.accounts.can(s.principal, app, action.permission))) {
            return problem(res, s, 403, "Not allowed", `You may see ${app} but not ${action.permission === "own" ? "do that to it: only its owner or an administrator may" : "change it: ask its owner to give you access (dynoform access:add)"}. Nothing was changed.`);
        }
        const { outcome, detail } = await action.run(verbDeps, s.principal.user, app, form);
        if (outcome.ok) await deps.accounts.audit({ user: s.principal.user, via: s.principal.via, app, action: action.name, detail });
        s.session.flash = { kind: outcome.ok ? "ok" : "error", lines: outcome.lines.length ? outcome.lines : [outcome.ok ? "Done." : "Refused."] };
        redirect(res, `/apps/${encodeURIComponent(app)}`);
    }

    async function appRoute(req: IncomingMessage, res: ServerResponse, s: Signed, parts: string[], url: URL): Promise<void> {
        const name = parts[1];
        const rest = parts.slice(2).join("/");
        if (req.method === "POST") return act(req, res, s, name, rest);
        const app = await readableApp(s.principal, name);
        if (!app) return problem(res, s, 404, "App not found", NOT_FOUND(name));
        if (rest === "") return appPage(res, s, app, url);
        if (rest === "charts") {
            const { points, sampled } = chartData(name);
            return sendHtml(res, 200, appCharts(points, sampled));
        }
        if (rest === "logs") return recentLogs(res, s, name);
        if (rest === "logs/stream") return liveLogs(res, s, name);
        if (parts[2] === "config-vars" && parts.length === 4) {
            const config = await deps.store.getConfig(name);
            if (!(parts[3] in config)) return sendJson(res, 404, { id: "not_found", message: `${parts[3]} is not set on ${name}` });
            return sendJson(res, 200, { key: parts[3], value: config[parts[3]] });
        }
        return problem(res, s, 404, "No such page", `The dashboard has no page at ${url.pathname}.`);
    }

    async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
        const url = new URL(req.url ?? "/", "http://dashboard");
        const method = req.method ?? "GET";
        if (method !== "GET" && method !== "POST") {
            res.setHeader("Allow", "GET, POST");
            return sendText(res, 405, "text/plain; charset=utf-8", "The dashboard answers GET and POST only\n");
        }
        if (url.pathname === "/assets/dashboard.css") return sendText(res, 200, "text/css; charset=utf-8", STYLESHEET, true);
        if (url.pathname === "/assets/dashboard.js") return sendText(res, 200, "text/javascript; charset=utf-8", SCRIPT, true);
        if (url.pathname === "/assets/icon.svg" || url.pathname === "/favicon.ico") return sendText(res, 200, "image/svg+xml", ICON, true);
        if (url.pathname === "/health") return sendText(res, 200, "text/plain; charset=utf-8", "ok\n");
        if (method === "POST" && foreignOrigin(req)) return sendHtml(res, 403, problemPage({ title: "Refused" }, "Refused", "This form was sent from another site's page, so nothing was changed."));
        if (url.pathname === "/sign-in") return method === "POST" ? signIn(req, res) : sendHtml(res, 200, signInPage(url.searchParams.has("ended") ? "Your session ended (signed out, expired, or its token was revoked): sign in again." : undefined));
        const s = await signedIn(req, res);
        if (!s) {
            if (method === "GET" && !url.pathname.includes("/logs") && !url.pathname.includes("/config-vars/") && !url.pathname.endsWith("/charts")) return redirect(res, "/sign-in");
            return sendText(res, 401, "text/plain; charset=utf-8", "Sign in first: your session ended or never began\n");
        }
        let parts: string[];
        try {
            parts = url.pathname.split("/").filter(Boolean).map(decodeURIComponent);
        } catch {
            return problem(res, s, 400, "Bad address", "That address is not valid (a % not followed by two hex digits).");
        }
        if (url.pathname === "/sign-out" && method === "POST") {
            const form = await readForm(req);
            if (!csrfMatches(s.session, form.get("_csrf"))) return problem(res, s, 403, "Form expired", "The form was not from this session of the dashboard: reload the page and try again.");
            sessions.end(s.session.id);
            setCookie(res, cookieName(isTls(req)), undefined, isTls(req));
            return redirect(res, "/sign-in?ended=1");
        }
        if (url.pathname === "/" && method === "GET") return redirect(res, "/apps");
        if (url.pathname === "/apps" && method === "GET") return appsPage(res, s);
        if (url.pathname === "/platform" && method === "GET") return platformPage(res, s);
        if (parts[0] === "apps" && parts.length >= 2) return appRoute(req, res, s, parts, url);
        return problem(res, s, 404, "No such page", `The dashboard has no page at ${url.pathname}.`);
    }

    return (req, res) => {
        route(req, res).catch((err: unknown) => {
            if (err instanceof HttpProblem) {
                if (!res.headersSent) sendHtml(res, err.status, problemPage({ title: "Refused" }, "Refused", err.message));
                return;
            }
            log(`${req.method} ${new URL(req.url ?? "/", "http://dashboard").pathname} failed: ${(err as Error).stack ?? String(err)}`);
            if (!res.headersSent) sendHtml(res, 500, problemPage({ title: "Error" }, "Something went wrong", "The dashboard failed on its side; the change may not have completed: check the app's releases, and the control host's log (journalctl -u dynoform-control)."));
            else res.destroy();
        });
    };
}

