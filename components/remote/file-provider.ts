// Provider side of RemoteFile. Serialized into the state by Pulumi: plain functions only.
import type * as dynamic from "@pulumi/pulumi/dynamic";
import {
    connectionChanged, definedOnly, hostRenamed, isUnknown, normalizeMode, RemoteInputs, lostMidway, retryLostConnection, sessionForRead, sha256, targetMoved,
} from "./provider-kit";
import { shellQuote, withSsh } from "./ssh";

export interface FileInputs extends RemoteInputs {
    path: string;
    content: string;
    mode: string;
    owner: string;
    /** The path belongs to a Debian package (nginx.conf): its original is kept beside it and put back on delete. */
    keepOriginal?: boolean;
}

/** What the state keeps: no content, only its hash. */
export interface FileOutputs extends RemoteInputs {
    path: string;
    mode: string;
    owner: string;
    sha256: string;
    keepOriginal?: boolean;
}

/** Where a package's file waits while ours is in its place (see keepOriginal). */
export function originalPath(path: string): string {
    return `${path}.dynoform-original`;
}

/**
 * Keeps whatever is at `path` before our first write there (a package's config), once: a second
 * write finds the copy already made and leaves it alone. Nothing there: nothing to keep.
 */
export function keepOriginalScript(path: string): string {
    const target = shellQuote(path);
    const original = shellQuote(originalPath(path));
    return `if [ -e ${target} ] && [ ! -e ${original} ]; then cp -p ${target} ${original}; fi`;
}

/** Delete: the package's original back in place if one was kept, else our file goes. */
/**
 * Idempotent, so a delete cut short can run again: with keepOriginal the original goes back once,
 * and the file is removed only while it is still ours (sha256), never the original put back.
 */
export function removeScript(path: string, keepOriginal: boolean, ours?: string): string {
    const target = shellQuote(path);
    if (!keepOriginal) return `rm -f ${target}`;
    const original = shellQuote(originalPath(path));
    const stillOurs = ours ? `[ "$(sha256sum < ${target} 2>/dev/null | cut -d' ' -f1)" = ${shellQuote(ours)} ]` : `[ -e ${target} ]`;
    return `if [ -e ${original} ]; then mv -f ${original} ${target}; elif ${stillOurs}; then rm -f ${target}; fi`;
}

function checkFile(_olds: unknown, news: FileInputs): dynamic.CheckResult<FileInputs> {
    const failures: dynamic.CheckFailure[] = [];
    const inputs = { ...news, mode: news.mode ?? "0644", owner: news.owner ?? "root:root" };
    if (!isUnknown(inputs.path) && !/^\/[^\0]*[^/]$/.test(inputs.path ?? "")) {
        failures.push({ property: "path", reason: `must be an absolute file path, got ${JSON.stringify(inputs.path)}` });
    }
    if (!isUnknown(inputs.mode) && !/^0?[0-7]{3,4}$/.test(inputs.mode)) {
        failures.push({ property: "mode", reason: `must be octal like "0644", got ${JSON.stringify(inputs.mode)}` });
    } else if (!isUnknown(inputs.mode)) {
        inputs.mode = normalizeMode(inputs.mode);
    }
    if (!isUnknown(inputs.owner) && !/^[a-z_][a-z0-9_-]*\$?:[a-z_][a-z0-9_-]*\$?$/i.test(inputs.owner)) {
        failures.push({ property: "owner", reason: `must be "user:group", got ${JSON.stringify(inputs.owner)}` });
    }
    return { inputs, failures };
}

function diffFile(olds: FileOutputs, news: FileInputs): dynamic.DiffResult {
    const replaces: string[] = [];
    if (olds.path !== news.path && !isUnknown(news.path)) replaces.push("path");
    if (hostRenamed(olds, news)) replaces.push("connection");
    const changes =
        replaces.length > 0 ||
        olds.path !== news.path ||
        olds.sha256 !== sha256(news.content) ||
        olds.mode !== news.mode ||
        olds.owner !== news.owner ||
        Boolean(olds.keepOriginal) !== Boolean(news.keepOriginal) ||
        olds.providerVersion !== news.providerVersion ||
        connectionChanged(olds, news);
    return { changes, replaces };
}

/** `keep`: the machine may hold a package's file at the path that is not ours yet (a create, a recreated machine). */
async function writeFile(inputs: FileInputs, keep: boolean): Promise<FileOutputs> {
    await withSsh(inputs.connection, async (session) => {
        if (keep && inputs.keepOriginal) await session.run(keepOriginalScript(inputs.path), { label: `keep the original ${inputs.path}` });
        await session.upload(inputs.path, inputs.content, { mode: inputs.mode, owner: inputs.owner });
    });
    return outputsOf(inputs);
}

function outputsOf(inputs: FileInputs): FileOutputs {
    const { connection, path, mode, owner, providerVersion, keepOriginal } = inputs;
    return definedOnly({ connection, path, mode, owner, providerVersion, keepOriginal, sha256: sha256(inputs.content) });
}

async function updateFile(olds: FileOutputs, news: FileInputs): Promise<FileOutputs> {
    const unchangedOnRemote =
        olds.sha256 === sha256(news.content) && olds.mode === news.mode && olds.owner === news.owner &&
        olds.path === news.path && !targetMoved(olds, news);
    return unchangedOnRemote ? outputsOf(news) : writeFile(news, targetMoved(olds, news) || olds.path !== news.path);
}

async function deleteFile(props: FileOutputs): Promise<void> {
    const script = removeScript(props.path, Boolean(props.keepOriginal), props.sha256);
    await retryLostConnection(() => withSsh(props.connection, (session) => session.run(script, { label: `remove ${props.path}` })));
}

/** Refresh: the file's actual hash, mode and owner ("absent" hash when it is gone). */
async function readFile(id: string, props: FileOutputs): Promise<dynamic.ReadResult<FileOutputs>> {
    const session = await sessionForRead(props.connection);
    if (!session) return { id, props };
    try {
        const target = shellQuote(props.path);
        const { stdout } = await session.run(
            `if [ -f ${target} ]; then sha256sum ${target} | cut -d' ' -f1; stat -c '%a %U:%G' ${target}; else echo absent; fi`,
            { label: `inspect ${props.path}` },
        );
        const [hash, stat = ""] = stdout.trim().split("\n");
        const [mode, owner] = stat.split(" ");
        return { id, props: { ...props, sha256: hash, mode: mode ? normalizeMode(mode) : props.mode, owner: owner ?? props.owner } };
    } catch (err) {
        if (!lostMidway(err)) throw err;
        return { id, props };
    } finally {
        session.close();
    }
}

export const remoteFileProvider: dynamic.ResourceProvider<FileInputs, FileOutputs> = {
    check: async (olds, news) => checkFile(olds, news),
    diff: async (_id, olds, news) => diffFile(olds, news),
    create: async (inputs) => ({ id: `${inputs.connection.name}:${inputs.path}`, outs: await retryLostConnection(() => writeFile(inputs, true)) }),
    update: async (_id, olds, news) => ({ outs: await retryLostConnection(() => updateFile(olds, news)) }),
    delete: async (_id, props) => deleteFile(props),
    read: async (id, props) => readFile(id, props!),
};
