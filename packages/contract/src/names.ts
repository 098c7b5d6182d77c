// The names the services exchange: apps, process types, dynos, config vars. Apps are made only
// through the control role, so its rule (Heroku's) is the one the agent and the router check too.
import { ValidationError } from "./errors";

/** 3 to 30 characters: lower-case letters, digits and dashes, a letter first, no dash last. */
export const APP_NAME = /^[a-z][a-z0-9-]{1,28}[a-z0-9]$/;

/** Why `name` is not an app name (the message people see), or undefined when it is one. */
export function appNameProblem(name: string): string | undefined {
  if (APP_NAME.test(name)) return undefined;
  return `Name "${name}" is invalid: use 3 to 30 characters, lowercase letters, digits and dashes, starting with a letter and ending with a letter or digit`;
}

/** The app name, or a ValidationError saying why it is none. */
export function checkAppName(name: string): string {
  const problem = appNameProblem(name);
  if (problem) throw new ValidationError(problem);
  return name;
}

const TYPE = "[a-z][a-z0-9_-]{0,30}";
/** A Procfile process type as dynos run it: `web`, `worker`, `clock-2`. */
export const PROCESS_TYPE = new RegExp(`^${TYPE}$`);
/** A dyno: `<process type>.<n>`, e.g. `web.1`; group 1 is the type. */
export const DYNO_NAME = new RegExp(`^(${TYPE})\\.([0-9]{1,6})$`);
/** The process type of one-off dynos (`run.1`): never one of an app's formation. */
export const ONE_OFF_TYPE = "run";
const DOMAIN_LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/** Why `host` is not a custom domain (lower case, at least two labels, `*.` allowed first), or undefined. */
export function domainProblem(host: string): string | undefined {
  const labels = host.replace(/^\*\./, "").split(".");
  if (host.length > 253 || labels.length < 2 || !labels.every((l) => DOMAIN_LABEL.test(l)) || /^\d+$/.test(labels[labels.length - 1])) {
    return `"${host}" is not a valid hostname: use a DNS name such as www.example.com (lowercase; "*." allowed as the first label)`;
  }
  return undefined;
}

/** A config var's name (an environment variable). */
export const CONFIG_VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The dyno name, or a ValidationError saying what one looks like. */
export function checkDynoName(name: unknown): string {
  if (typeof name !== "string" || !DYNO_NAME.test(name)) throw new ValidationError(`invalid dyno name ${JSON.stringify(name)} (want e.g. web.1)`);
  return name;
}

/** `web` of `web.1` (the name is a checked dyno name). */
export function processTypeOf(dyno: string): string {
  return DYNO_NAME.exec(dyno)![1];
}
