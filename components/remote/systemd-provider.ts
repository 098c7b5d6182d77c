// Provider side of SystemdService. Serialized into the state by Pulumi: plain functions only.
import type * as dynamic from "@pulumi/pulumi/dynamic";
import { connectionChanged, definedOnly, hostRenamed, isUnknown, RemoteInputs, lostMidway, retryLostConnection, sessionForRead, sha256, targetMoved } from "./provider-kit";
import { SshSession, withSsh } from "./ssh";
import { inspectCommand, planCreate, planDelete, planUpdate, ServiceRecord, ServiceSpec, ServiceStep } from "./systemd-plan";

export type ServiceInputs = RemoteInputs & ServiceSpec;
export type ServiceOutputs = RemoteInputs & ServiceRecord;

function checkService(_olds: unknown, news: ServiceInputs): dynamic.CheckResult<ServiceInputs> {
    const failures: dynamic.CheckFailure[] = [];
    const inputs: ServiceInputs = {
        ...news,
        enabled: news.enabled ?? true,
        restartTriggers: news.restartTriggers ?? [],
        reloadTriggers: news.reloadTriggers ?? [],
        onUnitChange: news.onUnitChange ?? "restart",
        systemDirectory: news.systemDirectory ?? "/etc/systemd/system",
    };
    if (!isUnknown(news.onUnitChange) && inputs.onUnitChange !== "restart" && inputs.onUnitChange !== "reload") {
        failures.push({ property: "onUnitChange", reason: `must be "restart" or "reload", got ${JSON.stringify(news.onUnitChange)}` });
    }
    if (!isUnknown(news.unit)) {
        inputs.unit = String(news.unit ?? "").replace(/\.service$/, "");
        if (!/^[A-Za-z0-9@._-]+$/.test(inputs.unit)) {
            failures.push({ property: "unit", reason: `must be a unit name like "nginx", got ${JSON.stringify(news.unit)}` });
        }
    }
    return { inputs, failures };
}

function recordOf(inputs: ServiceInputs, active: boolean): ServiceOutputs {
    const { unitFile, dropIn, ...rest } = inputs;
    return definedOnly({
        ...rest,
        unitFileSha256: unitFile === undefined ? undefined : sha256(unitFile),
        dropInSha256: dropIn === undefined ? undefined : sha256(dropIn),
        active,
    });
}

async function runSteps(session: SshSession, steps: ServiceStep[]): Promise<void> {
    for (const step of steps) {
        if (step.kind === "upload") await session.upload(step.path, step.content, { mode: step.mode, owner: "root:root" });
        else await session.run(step.command, { label: step.label });
    }
}

async function applySteps(connection: ServiceInputs["connection"], steps: ServiceStep[]): Promise<void> {
    if (steps.length > 0) await withSsh(connection, (session) => runSteps(session, steps));
}

function diffService(olds: ServiceOutputs, news: ServiceInputs): dynamic.DiffResult {
    const replaces = hostRenamed(olds, news) ? ["connection"] : [];
    if (!isUnknown(news.unit) && olds.unit !== news.unit) replaces.push("unit");
    if (olds.systemDirectory !== news.systemDirectory) replaces.push("systemDirectory");
    const desired = recordOf(news, true);
    const changes =
        replaces.length > 0 ||
        connectionChanged(olds, news) ||
        (["unitFileSha256", "dropInSha256", "enabled", "providerVersion"] as const).some((key) => olds[key] !== desired[key]) ||
        JSON.stringify([olds.restartTriggers, olds.reloadTriggers]) !== JSON.stringify([news.restartTriggers, news.reloadTriggers]) ||
        (news.enabled && !olds.active);
    return { changes, replaces };
}

async function createService(inputs: ServiceInputs): Promise<ServiceOutputs> {
    await applySteps(inputs.connection, planCreate(inputs));
    return recordOf(inputs, inputs.enabled);
}

async function updateService(olds: ServiceOutputs, news: ServiceInputs): Promise<ServiceOutputs> {
    const desired = recordOf(news, news.enabled);
    await applySteps(news.connection, planUpdate(olds, news, desired, targetMoved(olds, news)));
    return desired;
}

async function deleteService(props: ServiceOutputs): Promise<void> {
    const steps = planDelete(props);
    await retryLostConnection(() => applySteps(props.connection, steps));
}

/** Refresh: whether the unit is active and enabled, so a dead service shows up as a change. */
async function readService(id: string, props: ServiceOutputs): Promise<dynamic.ReadResult<ServiceOutputs>> {
    const session = await sessionForRead(props.connection);
    if (!session) return { id, props };
    try {
        const { stdout } = await session.run(inspectCommand(props.unit), { label: `systemctl is-active ${props.unit}` });
        const [active, enabled] = stdout.trim().split(" ");
        return { id, props: { ...props, active: active === "active", enabled: enabled === "enabled" } };
    } catch (err) {
        if (!lostMidway(err)) throw err;
        return { id, props };
    } finally {
        session.close();
    }
}

export const systemdServiceProvider: dynamic.ResourceProvider<ServiceInputs, ServiceOutputs> = {
    check: async (olds, news) => checkService(olds, news),
    diff: async (_id, olds, news) => diffService(olds, news),
    create: async (inputs) => ({ id: `${inputs.connection.name}:${inputs.unit}.service`, outs: await retryLostConnection(() => createService(inputs)) }),
    update: async (_id, olds, news) => ({ outs: await retryLostConnection(() => updateService(olds, news)) }),
    delete: async (_id, props) => deleteService(props),
    read: async (id, props) => readService(id, props!),
};
