// Sign in with an API token (`dynoform authorizations:create` makes one). The token is sent once,
// in the form's body; what the browser keeps is a session cookie.
import { html } from "./html";
import { page } from "./layout";

export function signInPage(problem?: string): ReturnType<typeof page> {
    return page(
        { title: "Sign in" },
        html`<section class="signin"><h1>Sign in to dynoform</h1>
${problem ? html`<div class="flash error" role="alert">${problem}</div>` : ""}
<form method="post" action="/sign-in">
<label for="token">API token</label>
<input id="token" name="token" type="password" autocomplete="off" required autofocus>
<button type="submit">Sign in</button>
</form>
<p class="muted">Create a token with <code>dynoform authorizations:create</code>; an administrator gives you access to apps with <code>dynoform access:add</code>.</p></section>`,
    );
}
