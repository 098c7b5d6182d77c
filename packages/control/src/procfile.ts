// Procfile: one `<type>: <command>` per line (Heroku's format). Blank lines and `#` comments are
// ignored. The `release` type is not a dyno formation: it runs once per release, before rollout.
import { ONE_OFF_TYPE, PROCESS_TYPE } from "@dynoform/contract";
import { UserError } from "./errors";

export type ProcessTypes = Record<string, string>;

export const RELEASE_TYPE = "release";
const LINE = /^([^:\s]+)\s*:\s*(.*)$/;

export class ProcfileError extends UserError {
    constructor(readonly line: number, message: string) {
        super(`Procfile line ${line}: ${message}`);
        this.name = "ProcfileError";
    }
}

/** Parse Procfile text into {type: command}, in file order. Throws ProcfileError naming the line. */
export function parseProcfile(text: string): ProcessTypes {
    const types: ProcessTypes = {};
    const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
    lines.forEach((raw, i) => {
        const n = i + 1;
        const line = raw.trim();
        if (line === "" || line.startsWith("#")) return;
        const m = LINE.exec(line);
        if (!m) {
            const [first, ...rest] = line.split(/\s+/);
            const hint = rest.length > 0 && PROCESS_TYPE.test(first) ? `; write it as "${first}: ${rest.join(" ")}"` : "";
            throw new ProcfileError(n, `"${line}" is not "<type>: <command>"${hint}`);
        }
        const [, type, command] = m;
        if (!PROCESS_TYPE.test(type)) {
            if (/[^A-Za-z0-9_-]/.test(type)) {
                throw new ProcfileError(n, `process type "${type}" may only contain letters, digits, "_" and "-"; rename it (e.g. "${type.replace(/[^A-Za-z0-9_-]+/g, "_")}")`);
            }
            // Dyno hosts name units and users after it: the rule is the contract's, not only the characters.
            const suggestion = type.toLowerCase().replace(/^[^a-z]+/, "").slice(0, 31) || "web";
            throw new ProcfileError(n, `process type "${type}" must be lower case, start with a letter and have at most 31 characters; rename it (e.g. "${suggestion}")`);
        }
        if (type === ONE_OFF_TYPE) throw new ProcfileError(n, `process type "${ONE_OFF_TYPE}" is reserved for one-off dynos (dynoform run); rename it (e.g. "runner")`);
        if (command.trim() === "") throw new ProcfileError(n, `process type "${type}" has no command; write "${type}: <command>"`);
        if (Object.prototype.hasOwnProperty.call(types, type)) {
            throw new ProcfileError(n, `process type "${type}" is declared twice; keep one "${type}:" line`);
        }
        types[type] = command.trim();
    });
    return types;
}

/** The types that become dynos (everything but `release`). */
export function formationTypes(types: ProcessTypes): string[] {
    return Object.keys(types).filter((t) => t !== RELEASE_TYPE);
}

/** The release-phase command, if the Procfile declares one. */
export function releaseCommand(types: ProcessTypes): string | undefined {
    return types[RELEASE_TYPE];
}

/** "web, worker" — in Heroku's build output order: file order, release last is fine as given. */
export function describeTypes(types: ProcessTypes): string {
    return Object.keys(types).join(", ");
}
