// Provider side of RemoteBinary. Serialized into the state by Pulumi: plain functions only.
import type * as dynamic from "@pulumi/pulumi/dynamic";
import { readFileSync } from "fs";
import { connectionChanged, hostRenamed, isUnknown, normalizeMode, RemoteInputs, lostMidway, retryLostConnection, sessionForRead, targetMoved } from "./provider-kit";
import { shellQuote, withSsh } from "./ssh";

export interface BinaryInputs extends RemoteInputs {
    /** Local file to upload (a built executable). */
    source: string;
    /** Its sha256: the only thing diffed, and checked on the host after the upload. */
    sha256: string;
    path: string;
    mode: string;
}

export type BinaryOutputs = BinaryInputs;

function diffBinary(olds: BinaryOutputs, news: BinaryInputs): dynamic.DiffResult {
    const replaces: string[] = [];
    if (olds.path !== news.path && !isUnknown(news.path)) replaces.push("path");
    if (hostRenamed(olds, news)) replaces.push("connection");
    const changes =
        replaces.length > 0 || olds.sha256 !== news.sha256 || olds.mode !== news.mode ||
        olds.providerVersion !== news.providerVersion || targetMoved(olds, news) ||
        // A new key alone (the stack's SSH key rotated) is recorded too: a later delete connects with it.
        connectionChanged(olds, news);
    return { changes, replaces };
}

/** Uploads only when the host does not have exactly this file already (e.g. a rebuilt machine). */
async function install(inputs: BinaryInputs): Promise<BinaryOutputs> {
    const target = shellQuote(inputs.path);
    await withSsh(inputs.connection, async (session) => {
        const present = await session.exec(`sha256sum ${target} 2>/dev/null | cut -d' ' -f1`);
        if (present.stdout.trim() !== inputs.sha256) {
            const content = readFileSync(inputs.source);
            await session.upload(inputs.path, content, { mode: inputs.mode, owner: "root:root" });
            const written = await session.run(`sha256sum ${target} | cut -d' ' -f1`, { label: `verify ${inputs.path}` });
            if (written.stdout.trim() !== inputs.sha256) {
                throw new Error(
                    `${inputs.connection.name}: ${inputs.path} has sha256 ${written.stdout.trim()} after upload, expected ${inputs.sha256} ` +
                        `(is ${inputs.source} newer than its .sha256? run \`npm run build:binaries\`)`,
                );
            }
        } else {
            await session.run(`chmod ${shellQuote(inputs.mode)} ${target}`);
        }
    });
    return { ...inputs };
}

async function readBinary(id: string, props: BinaryOutputs): Promise<dynamic.ReadResult<BinaryOutputs>> {
    const session = await sessionForRead(props.connection);
    if (!session) return { id, props };
    try {
        const { stdout } = await session.run(`sha256sum ${shellQuote(props.path)} 2>/dev/null | cut -d' ' -f1; true`, { label: `inspect ${props.path}` });
        return { id, props: { ...props, sha256: stdout.trim() || "absent" } };
    } catch (err) {
        if (!lostMidway(err)) throw err;
        return { id, props };
    } finally {
        session.close();
    }
}

export const remoteBinaryProvider: dynamic.ResourceProvider<BinaryInputs, BinaryOutputs> = {
    check: async (_olds, news) => ({ inputs: { ...news, mode: isUnknown(news.mode) ? news.mode : normalizeMode(news.mode ?? "0755") }, failures: [] }),
    diff: async (_id, olds, news) => diffBinary(olds, news),
    create: async (inputs) => ({ id: `${inputs.connection.name}:${inputs.path}`, outs: await retryLostConnection(() => install(inputs)) }),
    update: async (_id, _olds, news) => ({ outs: await retryLostConnection(() => install(news)) }),
    delete: async (_id, props) => {
        await retryLostConnection(() => withSsh(props.connection, (session) => session.run(`rm -f ${shellQuote(props.path)}`)));
    },
    read: async (id, props) => readBinary(id, props!),
};
