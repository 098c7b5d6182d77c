// The apps the signed-in user may see (Accounts.visibleApps), with their release and dynos.
import type { AppStore } from "../app_store";
import { html, SafeHtml, urlPart } from "./html";

export interface AppSummary {
    name: string;
    release?: string;
    formation: string;
    webUrl: string;
}

export async function appSummaries(store: AppStore, apps: string[], webUrl: (app: string) => string): Promise<AppSummary[]> {
    return Promise.all(
        apps.map(async (name) => {
            const [current, formation] = await Promise.all([store.currentRelease(name), store.getFormation(name)]);
            const dynos = Object.entries(formation).map(([t, f]) => `${t}: ${f.quantity}`).join(", ");
            return { name, ...(current ? { release: `v${current.version}` } : {}), formation: dynos || "no dynos", webUrl: webUrl(name) };
        }),
    );
}

export function appsBody(apps: AppSummary[]): SafeHtml {
    if (apps.length === 0) return html`<h1>Apps</h1><section><p>You have no apps yet. Create one with <code>dynoform apps:create</code>, or ask an app's owner to add you with <code>dynoform access:add</code>.</p></section>`;
    return html`<h1>Apps</h1><section><table><thead><tr><th>App</th><th>Release</th><th>Dynos</th><th>Web URL</th></tr></thead><tbody>
${apps.map((a) => html`<tr><td><a href="/apps/${urlPart(a.name)}">${a.name}</a></td><td>${a.release ?? "not deployed"}</td><td>${a.formation}</td><td><a href="${a.webUrl}" rel="noopener noreferrer">${a.webUrl}</a></td></tr>`)}
</tbody></table></section>`;
}
