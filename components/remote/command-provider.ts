// Provider side of RemoteCommand. Serialized into the state by Pulumi: plain functions only.
import type * as dynamic from "@pulumi/pulumi/dynamic";
import { connectionChanged, definedOnly, hostRenamed, isUnknown, RemoteInputs, retryLostConnection } from "./provider-kit";
import { shellQuote, tail, withSsh } from "./ssh";

export interface CommandInputs extends RemoteInputs {
    create: string;
    update?: string;
    delete?: string;
    triggers?: unknown[];
    environment?: Record<string, string>;
    /** Names the command in errors instead of its (possibly long) text. */
    label?: string;
}

export interface CommandOutputs extends CommandInputs {
    stdout: string;
    stderr: string;
}

const OUTPUT_TAIL_CHARS = 4000;

/**
 * The command and its environment travel on stdin (`eval "$(cat)"`), so secrets in the
 * environment never show up in a process list or an sshd log.
 */
export function commandScript(command: string, environment: Record<string, string> = {}): string {
    const exports = Object.entries(environment).map(([name, value]) => `export ${name}=${shellQuote(value)}\n`);
    return exports.join("") + command + "\n";
}

function checkCommand(_olds: unknown, news: CommandInputs): dynamic.CheckResult<CommandInputs> {
    const failures: dynamic.CheckFailure[] = [];
    if (!isUnknown(news.create) && (typeof news.create !== "string" || news.create.trim() === "")) {
        failures.push({ property: "create", reason: "must be a non-empty command" });
    }
    if (news.environment && !isUnknown(news.environment)) {
        const invalid = Object.keys(news.environment).filter((name) => !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name));
        if (invalid.length > 0) failures.push({ property: "environment", reason: `invalid variable names: ${invalid.join(", ")}` });
    }
    return { inputs: news, failures };
}

async function runCommand(inputs: CommandInputs, command: string): Promise<CommandOutputs> {
    const result = await withSsh(inputs.connection, (session) =>
        session.run(`eval "$(cat)"`, { stdin: commandScript(command, inputs.environment), label: inputs.label ?? command }),
    );
    return definedOnly({
        ...inputs,
        stdout: tail(result.stdout, OUTPUT_TAIL_CHARS),
        stderr: tail(result.stderr, OUTPUT_TAIL_CHARS),
    });
}

/** The inputs whose change means "run again" (a changed `delete` or connection key is just recorded). */
function runInputsChanged(olds: CommandInputs, news: CommandInputs): boolean {
    const key = (c: CommandInputs) =>
        JSON.stringify([c.create, c.update ?? null, c.triggers ?? [], c.environment ?? {}, c.connection?.host, c.connection?.port, c.connection?.hostKey]);
    return key(olds) !== key(news);
}

function diffCommand(olds: CommandOutputs, news: CommandInputs): dynamic.DiffResult {
    const replaces = hostRenamed(olds, news) ? ["connection"] : [];
    const changes =
        replaces.length > 0 ||
        runInputsChanged(olds, news) ||
        (olds.delete ?? null) !== (news.delete ?? null) ||
        olds.providerVersion !== news.providerVersion ||
        connectionChanged(olds, news);
    return { changes, replaces };
}

/** Runs `update` (or `create` again when there is none) if something that matters changed. */
async function updateCommand(olds: CommandOutputs, news: CommandInputs): Promise<CommandOutputs> {
    if (!runInputsChanged(olds, news)) return definedOnly({ ...news, stdout: olds.stdout, stderr: olds.stderr });
    return runCommand(news, news.update ?? news.create);
}

async function deleteCommand(props: CommandOutputs): Promise<void> {
    const script = props.delete;
    if (script) await retryLostConnection(() => runCommand(props, script));
}

export const remoteCommandProvider: dynamic.ResourceProvider<CommandInputs, CommandOutputs> = {
    check: async (olds, news) => checkCommand(olds, news),
    diff: async (_id, olds, news) => diffCommand(olds, news),
    create: async (inputs) => ({
        id: `${inputs.connection.name}:${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`,
        outs: await retryLostConnection(() => runCommand(inputs, inputs.create)),
    }),
    update: async (_id, olds, news) => ({ outs: await retryLostConnection(() => updateCommand(olds, news)) }),
    delete: async (_id, props) => deleteCommand(props),
};
