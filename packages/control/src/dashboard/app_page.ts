// One app: its dynos by host (state, age), scaling, releases with rollback, config vars (values
// hidden until revealed), domains, the live log view and the routers' charts. The forms show only
// to a user who may operate the app; anyone who may read it sees the rest.
import type { AppMetadata, AppStore, Domain, Formation, Release } from "../app_store";
import type { DynoStatus, Fleet } from "../fleet";
import { formationTypes } from "../procfile";
import { shortAge, timestamp } from "../text";
import { appCharts } from "./charts";
import { html, SafeHtml, urlPart } from "./html";
import { csrfField } from "./layout";
import type { MetricsPoint } from "./metrics_history";

export interface AppView {
    app: AppMetadata;
    webUrl: string;
    gitUrl: string;
    /** undefined with `dynosProblem` when the dyno hosts did not answer. */
    dynos?: DynoStatus[];
    dynosProblem?: string;
    formation: Formation;
    processTypes: string[];
    releases: Release[];
    current?: Release;
    configKeys: string[];
    /** The one value asked for without the script (`?reveal=KEY`). */
    revealed?: { key: string; value: string };
    domains: Domain[];
    canOperate: boolean;
    charts: { sampled: boolean; points: MetricsPoint[] };
    now: Date;
}

export async function loadAppView(
    store: AppStore,
    fleet: Fleet,
    app: AppMetadata,
    extra: Pick<AppView, "webUrl" | "gitUrl" | "canOperate" | "charts" | "now"> & { reveal?: string },
): Promise<AppView> {
    const name = app.name;
    const [formation, releases, current, config, domains] = await Promise.all([store.getFormation(name), store.listReleases(name, 15), store.currentRelease(name), store.getConfig(name), store.getDomains(name)]);
    let dynos: DynoStatus[] | undefined;
    let dynosProblem: string | undefined;
    try {
        dynos = await fleet.dynos(name);
    } catch (err) {
        dynosProblem = `The dyno hosts did not answer: ${(err as Error).message}`;
    }
    const { reveal, ...rest } = extra;
    return {
        ...rest,
        app,
        formation,
        processTypes: formationTypes(current?.processTypes ?? {}),
        releases,
        ...(current ? { current } : {}),
        configKeys: Object.keys(config).sort(),
        ...(reveal !== undefined && reveal in config ? { revealed: { key: reveal, value: config[reveal] } } : {}),
        domains,
        ...(dynos ? { dynos } : {}),
        ...(dynosProblem ? { dynosProblem } : {}),
    };
}

function dynosSection(v: AppView, base: string, csrf: string): SafeHtml {
    const byHost = new Map<string, DynoStatus[]>();
    for (const d of v.dynos ?? []) byHost.set(d.host ?? "not placed", [...(byHost.get(d.host ?? "not placed") ?? []), d]);
    const rows = [...byHost.entries()]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(
            ([host, dynos]) => html`<tr><th colspan="5" class="mono">${host}</th></tr>
${dynos.map((d) => html`<tr class="dyno"><td class="mono">${d.name}</td><td class="state-${d.state}">${d.state}</td><td title="${timestamp(d.since)}">${shortAge(d.since, v.now)}</td><td>v${d.release}</td><td class="mono">${d.command}</td></tr>`)}`,
        );
    const body = v.dynosProblem
        ? html`<p class="flash error">${v.dynosProblem}</p>`
        : rows.length === 0
          ? html`<p class="muted">No dynos are running.</p>`
          : html`<table><thead><tr><th>Dyno</th><th>State</th><th>Age</th><th>Release</th><th>Command</th></tr></thead><tbody>${rows}</tbody></table>`;
    const restart = v.canOperate && (v.dynos?.length ?? 0) > 0 ? html`<form class="inline" method="post" action="${base}/restart" data-confirm="Restart every dyno of ${v.app.name}?">${csrfField(csrf)}<button class="secondary" type="submit">Restart all dynos</button></form>` : "";
    return html`<section id="dynos"><h2>Dynos by host</h2>${body}${restart}</section>`;
}

function scalingSection(v: AppView, base: string, csrf: string): SafeHtml {
    if (v.processTypes.length === 0) return html`<section id="scaling"><h2>Scaling</h2><p class="muted">No process types yet: deploy with <code>git push</code> (the Procfile declares them).</p></section>`;
    if (!v.canOperate) {
        return html`<section id="scaling"><h2>Scaling</h2><p>${v.processTypes.map((t) => `${t}: ${v.formation[t]?.quantity ?? 0}`).join(", ")}</p></section>`;
    }
    return html`<section id="scaling"><h2>Scaling</h2><form id="scale" method="post" action="${base}/formation">${csrfField(csrf)}
${v.processTypes.map((t) => html`<label>${t} <input type="number" min="0" max="100" name="quantity.${t}" value="${v.formation[t]?.quantity ?? 0}"></label> `)}
<button type="submit">Scale</button> <span class="muted">${v.formation[v.processTypes[0]]?.size ?? "standard-1x"}</span></form></section>`;
}

function releasesSection(v: AppView, base: string, csrf: string): SafeHtml {
    if (v.releases.length === 0) return html`<section id="releases"><h2>Releases</h2><p class="muted">No releases yet: the first <code>git push</code> makes v1.</p></section>`;
    const rollback = (r: Release) =>
        v.canOperate && r.status === "succeeded" && r.version !== v.current?.version
            ? html`<form class="inline" method="post" action="${base}/rollback" data-confirm="Roll ${v.app.name} back to v${r.version}'s code and config vars?">${csrfField(csrf)}<input type="hidden" name="version" value="v${r.version}"><button class="secondary" type="submit">Roll back to v${r.version}</button></form>`
            : r.version === v.current?.version
              ? html`<span class="muted">current</span>`
              : "";
    return html`<section id="releases"><h2>Releases</h2><table><thead><tr><th>Version</th><th>Description</th><th>By</th><th>When</th><th></th></tr></thead><tbody>
${v.releases.map((r) => html`<tr class="release"><td>v${r.version}</td><td>${r.description}${r.status !== "succeeded" ? ` (${r.status})` : ""}</td><td>${r.user ?? "dynoform"}</td><td title="${r.createdAt}">${shortAge(new Date(r.createdAt), v.now)} ago</td><td>${rollback(r)}</td></tr>`)}
</tbody></table></section>`;
}

function configSection(v: AppView, base: string, csrf: string): SafeHtml {
    const row = (key: string, i: number) => {
        const shown = v.revealed?.key === key;
        const cell = html`<td class="mono${shown ? "" : " muted"}" id="config-value-${i}">${shown ? v.revealed!.value : "••••••••"}</td>`;
        const reveal = shown ? "" : html`<a href="${base}?reveal=${urlPart(key)}#config" data-reveal="${base}/config-vars/${urlPart(key)}" data-target="config-value-${i}">Reveal</a>`;
        const unset = v.canOperate ? html`<form class="inline" method="post" action="${base}/config/unset" data-confirm="Remove ${key} from ${v.app.name}? This makes a new release.">${csrfField(csrf)}<input type="hidden" name="key" value="${key}"><button class="danger" type="submit">Remove</button></form>` : "";
        return html`<tr class="config-var"><td class="mono">${key}</td>${cell}<td>${reveal} ${unset}</td></tr>`;
    };
    const table = v.configKeys.length === 0 ? html`<p class="muted">No config vars.</p>` : html`<table><tbody>${v.configKeys.map(row)}</tbody></table>`;
    const form = v.canOperate
        ? html`<form id="config-set" method="post" action="${base}/config">${csrfField(csrf)}<input id="config-key" type="text" name="key" placeholder="KEY" aria-label="Config var name" required pattern="[A-Za-z_][A-Za-z0-9_]*"> <input id="config-value" type="text" name="value" placeholder="VALUE" aria-label="Value" autocomplete="off"> <button type="submit">Set</button> <span class="muted">makes a new release</span></form>`
        : "";
    return html`<section id="config"><h2>Config vars</h2>${table}${form}</section>`;
}

function domainsSection(v: AppView, base: string, csrf: string): SafeHtml {
    const remove = (d: Domain) =>
        v.canOperate && d.kind === "custom"
            ? html`<form class="inline" method="post" action="${base}/domains/remove">${csrfField(csrf)}<input type="hidden" name="hostname" value="${d.hostname}"><button class="danger" type="submit">Remove</button></form>`
            : "";
    const form = v.canOperate ? html`<form id="domain-add" method="post" action="${base}/domains">${csrfField(csrf)}<input id="domain-hostname" type="text" name="hostname" placeholder="www.example.com" aria-label="Domain name" required> <button type="submit">Add domain</button></form>` : "";
    return html`<section id="domains"><h2>Domains</h2><table><tbody>
${v.domains.map((d) => html`<tr><td class="mono">${d.hostname}</td><td>${d.kind === "default" ? "Dynoform domain" : "custom"}</td><td>${remove(d)}</td></tr>`)}
</tbody></table>${form}</section>`;
}

function logsSection(base: string): SafeHtml {
    return html`<section id="logs"><h2>Logs <span class="muted" id="log-status"></span></h2>
<pre class="logs" id="log-lines" data-stream="${base}/logs/stream" aria-live="polite"></pre>
<noscript><p><a href="${base}/logs">Recent log lines</a> (the live view needs JavaScript)</p></noscript></section>`;
}

export function appBody(v: AppView, csrf: string): SafeHtml {
    const base = `/apps/${urlPart(v.app.name)}`;
    return html`<h1>⬢ ${v.app.name}</h1>
<p><a href="${v.webUrl}" rel="noopener noreferrer">${v.webUrl}</a> · <code>${v.gitUrl}</code> · ${v.current ? html`release v${v.current.version}` : "not deployed"}</p>
${v.canOperate ? "" : html`<p class="flash ok">You may see ${v.app.name} but not change it: ask its owner for access (<code>dynoform access:add</code>).</p>`}
${dynosSection(v, base, csrf)}
${scalingSection(v, base, csrf)}
<section id="metrics"><h2>Router metrics, last hour</h2><div class="charts" id="charts" data-src="${base}/charts">${appCharts(v.charts.points, v.charts.sampled)}</div></section>
${logsSection(base)}
${releasesSection(v, base, csrf)}
${configSection(v, base, csrf)}
${domainsSection(v, base, csrf)}`;
}
