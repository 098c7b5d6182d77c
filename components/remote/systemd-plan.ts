// What SystemdService does on a host, as a list of steps: pure, so it is unit-testable without systemd.
import { shellQuote } from "./ssh";

export type ServiceStep =
    | { kind: "upload"; path: string; content: string; mode: string }
    | { kind: "run"; command: string; label: string };

/** The desired state, as the program gives it (file contents in full). */
export interface ServiceSpec {
    unit: string;
    unitFile?: string;
    dropIn?: string;
    enabled: boolean;
    restartTriggers: string[];
    reloadTriggers: string[];
    /** What new unit files do to the running service (see SystemdServiceArgs.onUnitChange). */
    onUnitChange: "restart" | "reload";
    /** Where unit files go; "/etc/systemd/system" except in tests. */
    systemDirectory: string;
}

/** What the state remembers of a spec (hashes instead of contents) plus what refresh saw. */
export interface ServiceRecord extends Omit<ServiceSpec, "unitFile" | "dropIn"> {
    unitFileSha256?: string;
    dropInSha256?: string;
    /** `systemctl is-active` said "active" at the last apply or refresh. */
    active: boolean;
}

export function unitFilePath(spec: { unit: string; systemDirectory: string }): string {
    return `${spec.systemDirectory}/${spec.unit}.service`;
}

export function dropInPath(spec: { unit: string; systemDirectory: string }): string {
    return `${spec.systemDirectory}/${spec.unit}.service.d/dynoform.conf`;
}

function systemctl(args: string): ServiceStep {
    return { kind: "run", command: `systemctl ${args}`, label: `systemctl ${args}` };
}

/** Waits out "activating"; fails with the unit's state and journal tail unless it ends up active. */
export function verifyActiveStep(unit: string): ServiceStep {
    const u = shellQuote(unit);
    return {
        kind: "run",
        label: `systemctl is-active ${unit}`,
        command: [
            "for i in $(seq 1 20); do",
            `  state=$(systemctl is-active ${u} 2>/dev/null || true)`,
            `  case "$state" in active) exit 0 ;; activating|reloading|deactivating) sleep 0.5 ;; *) break ;; esac`,
            "done",
            `echo "${unit} is \${state:-unknown}; journalctl -u ${unit} -n 20:" >&2`,
            `journalctl -u ${u} -n 20 --no-pager >&2 || true`,
            "exit 3",
        ].join("\n"),
    };
}

function fileSteps(spec: ServiceSpec, previous?: ServiceRecord): ServiceStep[] {
    const steps: ServiceStep[] = [];
    if (spec.unitFile !== undefined) {
        steps.push({ kind: "upload", path: unitFilePath(spec), content: spec.unitFile, mode: "0644" });
    } else if (previous?.unitFileSha256) {
        steps.push({ kind: "run", command: `rm -f ${shellQuote(unitFilePath(spec))}`, label: `remove ${unitFilePath(spec)}` });
    }
    // Drop-ins may carry Environment= secrets: root-only.
    if (spec.dropIn !== undefined) {
        steps.push({ kind: "upload", path: dropInPath(spec), content: spec.dropIn, mode: "0600" });
    } else if (previous?.dropInSha256) {
        steps.push({ kind: "run", command: `rm -f ${shellQuote(dropInPath(spec))}`, label: `remove ${dropInPath(spec)}` });
    }
    return steps;
}

function sameList(a: string[] | undefined, b: string[] | undefined): boolean {
    return JSON.stringify(a ?? []) === JSON.stringify(b ?? []);
}

/** How new unit files reach the running service: a restart, or a reload for units that ask for one. */
function applyUnitChange(spec: ServiceSpec): ServiceStep {
    const u = shellQuote(spec.unit);
    return systemctl(spec.onUnitChange === "reload" ? `reload-or-restart ${u}` : `restart ${u}`);
}

/** Create: write our files, enable, and (re)start so a package's already-running service picks them up. */
export function planCreate(spec: ServiceSpec): ServiceStep[] {
    const u = shellQuote(spec.unit);
    const files = fileSteps(spec);
    const steps = [...files];
    if (files.length > 0) steps.push(systemctl("daemon-reload"));
    if (!spec.enabled) return [...steps, systemctl(`disable --now ${u}`)];
    return [...steps, systemctl(`enable ${u}`), applyUnitChange(spec), verifyActiveStep(spec.unit)];
}

/**
 * Update: rewrite changed files; restart when a restart trigger changed or the service was found
 * dead; on changed files, restart or reload as the spec's onUnitChange says; reload-or-restart
 * when only reload triggers changed; nothing otherwise.
 */
export function planUpdate(
    previous: ServiceRecord,
    spec: ServiceSpec,
    hashes: { unitFileSha256?: string; dropInSha256?: string },
    machineChanged: boolean,
): ServiceStep[] {
    const u = shellQuote(spec.unit);
    const filesChanged =
        machineChanged ||
        previous.unitFileSha256 !== hashes.unitFileSha256 ||
        previous.dropInSha256 !== hashes.dropInSha256;
    const steps = filesChanged ? fileSteps(spec, previous) : [];
    if (steps.length > 0) steps.push(systemctl("daemon-reload"));
    if (!spec.enabled) {
        return previous.enabled || previous.active || machineChanged ? [...steps, systemctl(`disable --now ${u}`)] : steps;
    }
    const restart = !sameList(previous.restartTriggers, spec.restartTriggers) || !previous.active;
    const reload = !sameList(previous.reloadTriggers, spec.reloadTriggers);
    if (!previous.enabled || machineChanged) steps.push(systemctl(`enable ${u}`));
    if (restart) steps.push(systemctl(`restart ${u}`));
    else if (filesChanged) steps.push(applyUnitChange(spec));
    else if (reload) steps.push(systemctl(`reload-or-restart ${u}`));
    if (steps.length > 0) steps.push(verifyActiveStep(spec.unit));
    return steps;
}

/** Delete: stop and disable, and remove only the files we wrote. */
export function planDelete(record: ServiceRecord): ServiceStep[] {
    const u = shellQuote(record.unit);
    const ours = [
        ...(record.unitFileSha256 ? [unitFilePath(record)] : []),
        ...(record.dropInSha256 ? [dropInPath(record)] : []),
    ];
    const steps: ServiceStep[] = [
        { kind: "run", command: `systemctl disable --now ${u} 2>&1 || true`, label: `systemctl disable --now ${record.unit}` },
    ];
    if (ours.length > 0) {
        const dropInDirectory = shellQuote(`${record.systemDirectory}/${record.unit}.service.d`);
        steps.push({
            kind: "run",
            command: `rm -f ${ours.map(shellQuote).join(" ")}; rmdir ${dropInDirectory} 2>/dev/null || true`,
            label: `remove ${ours.join(" ")}`,
        });
        steps.push(systemctl("daemon-reload"));
    }
    return steps;
}

/** For refresh: prints "<is-active> <is-enabled>". */
export function inspectCommand(unit: string): string {
    const u = shellQuote(unit);
    return `echo "$(systemctl is-active ${u} 2>/dev/null || true) $(systemctl is-enabled ${u} 2>/dev/null || true)"`;
}
