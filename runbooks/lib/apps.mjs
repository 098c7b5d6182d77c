// An app named on a runbook's command line (-a APP): checked against the control role's apps
// before anything is asked of it, so a typo stops with the names there are.
import { dynoform, dynoformJson } from "./control.mjs";
import { fail } from "./output.mjs";

/** Stops unless `app` is an app of `stack`. */
export async function requireApp(stack, app) {
    const apps = await dynoformJson(stack, ["apps"]);
    if (!apps.includes(app)) fail(`${app} is not an app of stack ${stack}: ${apps.length ? `its apps are ${apps.join(", ")}` : "it has no apps"}`);
}

/** Whether the app's database answers a query as the app's role (pg:psql -c, through the control host). */
export async function databaseAnswers(stack, app) {
    const out = await dynoform(stack, ["pg:psql", "-a", app, "-c", "select 'dynoform-ok' as answer"], { quiet: true }).catch((err) => err);
    return typeof out === "string" && out.includes("dynoform-ok");
}
