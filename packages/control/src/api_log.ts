// The control role's own lines in an app's stream, as Heroku prints them today (`app[api]: ...`,
// source app: Heroku's older `heroku[api]` lines became `app[api]` ones): releases, config changes
// (their release's description), scaling and builds. They go through
// the fleet's log router client when there is one; without one nothing is sent.
import type { Formation } from "./app_store";
import type { Fleet } from "./fleet";

/** Heroku's name of a dyno size: standard-1x → Standard-1X, performance-m → Performance-M, eco → Eco. */
export function herokuSizeName(size: string): string {
    const [kind, ...rest] = size.split("-");
    return [kind.charAt(0).toUpperCase() + kind.slice(1), ...rest.map((r) => r.toUpperCase())].join("-");
}

/** `Scaled to web@2:Standard-1X worker@1:Standard-2X by user alice`: the types given, in that order. */
export function scaledMessage(formation: Formation, types: string[], user: string): string {
    return `Scaled to ${types.map((t) => `${t}@${formation[t].quantity}:${herokuSizeName(formation[t].size)}`).join(" ")} by user ${user}`;
}

/** Who the lines name when the caller is unknown (a run on the control host itself). */
export const UNKNOWN_USER = "dynoform";

/** One `app[api]` line in the app's stream, when a log router is configured. */
export function apiLog(fleet: Pick<Fleet, "logRouter">, app: string, msg: string): void {
    fleet.logRouter?.api(app, msg);
}
