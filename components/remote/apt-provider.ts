// Provider side of AptPackages. Serialized into the state by Pulumi: plain functions only.
import type * as dynamic from "@pulumi/pulumi/dynamic";
import { connectionChanged, hostRenamed, isUnknown, RemoteInputs, lostMidway, retryLostConnection, sessionForRead, targetMoved } from "./provider-kit";
import { SshSession, withSsh } from "./ssh";

export interface AptInputs extends RemoteInputs {
    packages: string[];
    /** Purge packages on destroy (and when dropped from the list). Default false. */
    purgeOnDelete: boolean;
}

export interface AptOutputs extends AptInputs {
    /** Installed version of each package. */
    versions: Record<string, string>;
}

/** apt-get waits this long for another apt/dpkg (unattended-upgrades, cloud-init) to let go of its locks. */
const LOCK_WAIT = "-o DPkg::Lock::Timeout=600";
/** Our own apt runs on one host take turns on this lock (apt's lock timeout does not cover every lock, e.g. the lists lock). */
export const APT_LOCK = "/run/dynoform-apt.lock";
/** Package lists younger than this are fresh enough to install from. */
const LISTS_FRESH_MINUTES = 360;

function checkApt(_olds: unknown, news: AptInputs): dynamic.CheckResult<AptInputs> {
    const failures: dynamic.CheckFailure[] = [];
    const inputs = { ...news, purgeOnDelete: news.purgeOnDelete ?? false };
    if (!isUnknown(news.packages)) {
        const packages = Array.isArray(news.packages) ? news.packages : [];
        const invalid = packages.filter((name) => !isUnknown(name) && !/^[a-z0-9][a-z0-9+.-]+(:[a-z0-9]+)?$/.test(name));
        if (packages.length === 0) failures.push({ property: "packages", reason: "must list at least one package" });
        if (invalid.length > 0) failures.push({ property: "packages", reason: `invalid package names: ${invalid.join(", ")}` });
        inputs.packages = [...new Set(packages)].sort();
    }
    return { inputs, failures };
}

/** Installs whatever of `packages` is missing; a no-op (no apt-get at all) when everything is installed. */
export function installScript(packages: string[]): string {
    const aptGet = `apt-get ${LOCK_WAIT} -q`;
    const install = `${aptGet} install -y --no-install-recommends $missing`;
    return [
        "set -e",
        `exec 9>${APT_LOCK}`,
        "flock -w 900 9",
        "export DEBIAN_FRONTEND=noninteractive",
        `missing=""`,
        `for p in ${packages.join(" ")}; do`,
        `  dpkg-query -W -f='\${db:Status-Status}' "$p" 2>/dev/null | grep -qx installed || missing="$missing $p"`,
        "done",
        `[ -z "$missing" ] && exit 0`,
        `if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' -mmin -${LISTS_FRESH_MINUTES} 2>/dev/null | head -n1)" ]; then`,
        `  ${aptGet} update`,
        "fi",
        // Lists that are fresh by age can still miss a package (a new source): refresh once and retry.
        `${install} || { ${aptGet} update && ${install}; }`,
    ].join("\n");
}

export function purgeScript(packages: string[]): string {
    return [
        `exec 9>${APT_LOCK}`,
        "flock -w 900 9",
        "export DEBIAN_FRONTEND=noninteractive",
        `apt-get ${LOCK_WAIT} -q purge -y ${packages.join(" ")}`,
    ].join("\n");
}

/** "nginx 1.22.1-9\n..." for the installed ones among `packages`. */
async function installedVersions(session: SshSession, packages: string[]): Promise<Record<string, string>> {
    const { stdout } = await session.exec(
        `dpkg-query -W -f='\${db:Status-Status} \${Package} \${Version}\\n' ${packages.join(" ")} 2>/dev/null`,
    );
    const versions: Record<string, string> = {};
    for (const line of stdout.split("\n")) {
        const [status, name, version] = line.trim().split(" ");
        if (status === "installed" && name && version) versions[name] = version;
    }
    return versions;
}

async function install(inputs: AptInputs, purge: string[] = []): Promise<AptOutputs> {
    return withSsh(inputs.connection, async (session) => {
        if (purge.length > 0) await session.run(purgeScript(purge), { label: `apt-get purge ${purge.join(" ")}` });
        await session.run(installScript(inputs.packages), { label: `apt-get install ${inputs.packages.join(" ")}` });
        return { ...inputs, versions: await installedVersions(session, inputs.packages) };
    });
}

function diffApt(olds: AptOutputs, news: AptInputs): dynamic.DiffResult {
    const replaces = hostRenamed(olds, news) ? ["connection"] : [];
    const changes =
        replaces.length > 0 ||
        JSON.stringify(olds.packages) !== JSON.stringify(news.packages) ||
        olds.purgeOnDelete !== news.purgeOnDelete ||
        olds.providerVersion !== news.providerVersion ||
        connectionChanged(olds, news) ||
        // A refresh found some package missing.
        olds.packages.some((name) => !(name.replace(/:.*/, "") in (olds.versions ?? {})));
    return { changes, replaces };
}

async function updateApt(olds: AptOutputs, news: AptInputs): Promise<AptOutputs> {
    const dropped = news.purgeOnDelete && !targetMoved(olds, news) ? olds.packages.filter((p) => !news.packages.includes(p)) : [];
    return install(news, dropped);
}

/**
 * Destroy leaves packages installed unless purgeOnDelete: other resources (or the base image)
 * may rely on the same packages, and purging e.g. openssh-server would cut us off.
 */
async function deleteApt(props: AptOutputs): Promise<void> {
    if (!props.purgeOnDelete) return;
    await retryLostConnection(() =>
        withSsh(props.connection, (session) => session.run(purgeScript(props.packages), { label: `apt-get purge ${props.packages.join(" ")}` })),
    );
}

async function readApt(id: string, props: AptOutputs): Promise<dynamic.ReadResult<AptOutputs>> {
    const session = await sessionForRead(props.connection);
    if (!session) return { id, props };
    try {
        return { id, props: { ...props, versions: await installedVersions(session, props.packages) } };
    } catch (err) {
        if (!lostMidway(err)) throw err;
        return { id, props };
    } finally {
        session.close();
    }
}

export const aptPackagesProvider: dynamic.ResourceProvider<AptInputs, AptOutputs> = {
    check: async (olds, news) => checkApt(olds, news),
    diff: async (_id, olds, news) => diffApt(olds, news),
    create: async (inputs) => ({ id: `${inputs.connection.name}:apt`, outs: await retryLostConnection(() => install(inputs)) }),
    update: async (_id, olds, news) => ({ outs: await retryLostConnection(() => updateApt(olds, news)) }),
    delete: async (_id, props) => deleteApt(props),
    read: async (id, props) => readApt(id, props!),
};
