// The frame of every page: title, the top bar (apps, the platform for administrators, who is signed
// in, sign out) and the message the last change left.
import type { Principal } from "../accounts/principal";
import { html, SafeHtml } from "./html";
import type { Flash } from "./sessions";

export interface PageFrame {
    title: string;
    principal?: Principal;
    csrf?: string;
    flash?: Flash;
}

export function csrfField(csrf: string): SafeHtml {
    return html`<input type="hidden" name="_csrf" value="${csrf}">`;
}

function topBar(principal: Principal | undefined, csrf: string | undefined): SafeHtml {
    if (!principal || !csrf) return html`<header class="top"><a href="/">dynoform</a></header>`;
    return html`<header class="top"><a href="/apps">dynoform</a><a href="/apps">Apps</a>${principal.admin ? html`<a href="/platform">Platform</a>` : ""}
<span class="who">${principal.user}${principal.admin ? " (administrator)" : ""}</span>
<form method="post" action="/sign-out">${csrfField(csrf)}<button class="secondary" type="submit">Sign out</button></form></header>`;
}

function flashBox(flash: Flash | undefined): SafeHtml | "" {
    if (!flash) return "";
    return html`<div class="flash ${flash.kind}" role="${flash.kind === "error" ? "alert" : "status"}">${flash.lines.join("\n")}</div>`;
}

export function page(frame: PageFrame, body: SafeHtml): SafeHtml {
    return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${frame.title} · dynoform</title><link rel="icon" href="/assets/icon.svg" type="image/svg+xml"><link rel="stylesheet" href="/assets/dashboard.css"></head>
<body>${topBar(frame.principal, frame.csrf)}<main>${flashBox(frame.flash)}${body}</main>
<script src="/assets/dashboard.js"></script></body></html>`;
}

/** A page that says what went wrong and what to do: 404, 403, 400 and the rest. */
export function problemPage(frame: PageFrame, heading: string, message: string): SafeHtml {
    return page(frame, html`<h1>${heading}</h1><section><p>${message}</p><p><a href="/apps">Back to your apps</a></p></section>`);
}
