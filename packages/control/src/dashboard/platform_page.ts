// What administrators see of the platform: the dyno hosts (up, drained, dynos placed), the
// services (each answering its health URL or not) and the load (requests/s, in flight, queued per
// app, from the routers' metrics).
import type { HostStatus } from "../fleet";
import { html, SafeHtml, urlPart } from "./html";
import type { AppLoad } from "./metrics_history";
import type { ServiceStatus } from "./service_probes";

export interface PlatformView {
    hosts: HostStatus[];
    hostsProblem?: string;
    services?: ServiceStatus[];
    load?: AppLoad[];
}

function hostsSection(v: PlatformView): SafeHtml {
    if (v.hostsProblem) return html`<section id="hosts"><h2>Dyno hosts</h2><p class="flash error">${v.hostsProblem}</p></section>`;
    if (v.hosts.length === 0) return html`<section id="hosts"><h2>Dyno hosts</h2><p class="muted">This platform has no dyno hosts configured.</p></section>`;
    return html`<section id="hosts"><h2>Dyno hosts</h2><table><thead><tr><th>Host</th><th>State</th><th>Drained</th><th>Dynos</th></tr></thead><tbody>
${v.hosts.map((h) => html`<tr class="host"><td class="mono">${h.host}</td><td class="state-${h.state}">${h.state}</td><td>${h.drainedSince ? `since ${h.drainedSince}` : "no"}</td><td>${h.dynos}</td></tr>`)}
</tbody></table><p class="muted">Drain a host with <code>dynoform hosts:drain HOST</code>.</p></section>`;
}

function servicesSection(v: PlatformView): SafeHtml {
    if (!v.services) return html`<section id="services"><h2>Services</h2><p class="muted">No service health URLs are configured for this dashboard.</p></section>`;
    return html`<section id="services"><h2>Services</h2><table><thead><tr><th>Service</th><th>Where</th><th>State</th></tr></thead><tbody>
${v.services.map((s) => html`<tr class="service"><td>${s.name}</td><td class="mono">${s.where}</td><td class="state-${s.state}">${s.state}${s.detail ? html` <span class="muted">(${s.detail})</span>` : ""}</td></tr>`)}
</tbody></table></section>`;
}

function loadSection(v: PlatformView): SafeHtml {
    if (!v.load) return html`<section id="load"><h2>Load</h2><p class="muted">No router metrics are configured for this dashboard.</p></section>`;
    if (v.load.length === 0) return html`<section id="load"><h2>Load</h2><p class="muted">The routers have counted no requests yet.</p></section>`;
    return html`<section id="load"><h2>Load</h2><table><thead><tr><th>App</th><th>Requests/s</th><th>In flight</th><th>Queued</th></tr></thead><tbody>
${v.load.map((l) => html`<tr><td><a href="/apps/${urlPart(l.app)}">${l.app}</a></td><td>${l.rps.toFixed(1)}</td><td>${l.inflight}</td><td>${l.queued}</td></tr>`)}
</tbody></table></section>`;
}

export function platformBody(v: PlatformView): SafeHtml {
    return html`<h1>Platform</h1>${hostsSection(v)}${servicesSection(v)}${loadSection(v)}`;
}
