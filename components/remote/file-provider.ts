// Provider side of RemoteFile. Serialized into the state by Pulumi: plain functions only.
import type * as dynamic from "@pulumi/pulumi/dynamic";
import {
    connectionChanged, hostRenamed, isUnknown, normalizeMode, RemoteInputs, sessionForRead, sha256, targetMoved,
} from "./provider-kit";
import { shellQuote, withSsh } from "./ssh";

export interface FileInputs extends RemoteInputs {
    path: string;
    content: string;
    mode: string;
    owner: string;
}

/** What the state keeps: no content, only its hash. */
export interface FileOutputs extends RemoteInputs {
    path: string;
    mode: string;
    owner: string;
    sha256: string;
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
        olds.providerVersion !== news.providerVersion ||
        connectionChanged(olds, news);
    return { changes, replaces };
}

async function writeFile(inputs: FileInputs): Promise<FileOutputs> {
    await withSsh(inputs.connection, (session) =>
        session.upload(inputs.path, inputs.content, { mode: inputs.mode, owner: inputs.owner }),
    );
    return outputsOf(inputs);
}

function outputsOf(inputs: FileInputs): FileOutputs {
    const { connection, path, mode, owner, providerVersion } = inputs;
    return { connection, path, mode, owner, providerVersion, sha256: sha256(inputs.content) };
}

async function updateFile(olds: FileOutputs, news: FileInputs): Promise<FileOutputs> {
    const unchangedOnRemote =
        olds.sha256 === sha256(news.content) && olds.mode === news.mode && olds.owner === news.owner &&
        olds.path === news.path && !targetMoved(olds, news);
    return unchangedOnRemote ? outputsOf(news) : writeFile(news);
}

async function deleteFile(props: FileOutputs): Promise<void> {
    await withSsh(props.connection, (session) => session.run(`rm -f ${shellQuote(props.path)}`));
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
    } finally {
        session.close();
    }
}

export const remoteFileProvider: dynamic.ResourceProvider<FileInputs, FileOutputs> = {
    check: async (olds, news) => checkFile(olds, news),
    diff: async (_id, olds, news) => diffFile(olds, news),
    create: async (inputs) => ({ id: `${inputs.connection.name}:${inputs.path}`, outs: await writeFile(inputs) }),
    update: async (_id, olds, news) => ({ outs: await updateFile(olds, news) }),
    delete: async (_id, props) => deleteFile(props),
    read: async (id, props) => readFile(id, props!),
};
