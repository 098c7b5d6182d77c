// What of dynoform is still on a host: after `pulumi destroy` of a servers stack there must be
// nothing (README "What `pulumi destroy` leaves"). One shell script over `exec`, read here into one
// readable line per leftover.
import { BUILD_UID_RANGE, DYNO_UID_RANGE } from "../../components/firewall/host_firewall";

/** Runs a shell command on the host (as root) and gives its stdout. */
export type Exec = (command: string) => Promise<string>;

/**
 * Paths only the stack makes (globs allowed): state, config, binaries, units and their drop-ins and
 * wants links, sudoers, CA, the git user's home, the packages' originals kept while ours were in place.
 */
export const STACK_PATHS = [
    "/etc/dynoform",
    "/etc/dynoform-memcached",
    "/var/lib/dynoform",
    "/var/lib/dynoform-agent",
    "/var/lib/dynoform-router",
    "/var/lib/dynoform-logplex",
    "/var/lib/dynoform-backups",
    "/var/lib/postgresql/.ssh/dynoform-backup*",
    "/usr/local/lib/dynoform",
    "/usr/local/bin/dynoform*",
    "/usr/local/sbin/dynoform*",
    "/etc/sudoers.d/dynoform*",
    "/etc/nginx/dynoform",
    "/etc/systemd/system/dynoform*",
    "/etc/systemd/system/dyno-*",
    "/etc/systemd/system/*/dynoform*",
    "/usr/local/share/ca-certificates/dynoform*",
    "/etc/ssl/certs/dynoform*",
    "/home/git",
    "/run/dynoform*",
    "/etc/nginx/nginx.conf.dynoform-original",
    "/etc/varnish/default.vcl.dynoform-original",
    "/etc/postgresql/*/main/pg_hba.conf.dynoform-original",
    "/etc/postgresql/*/main/conf.d/dynoform.conf",
] as const;

/** Packages' files the stack writes its own version of: after a destroy they must be the package's again (there, where the package is). */
export const PACKAGE_FILES = [
    { directory: "/etc/nginx", file: "nginx.conf" },
    { directory: "/etc/varnish", file: "default.vcl" },
    { directory: "/etc/postgresql/*/main", file: "pg_hba.conf" },
] as const;

/** Users (and their groups) the stack or its services make by name; the rest are found by uid block. */
export const STACK_USERS = ["dynoform-router", "dynoform-logplex", "dynoform-backup", "dynoform-build", "git"] as const;

/** The script: sections `@name` then their lines. `root` stands for / (tests). */
export function leftoversScript(root = ""): string {
    const r = root.replace(/\/+$/, "");
    const paths = STACK_PATHS.map((p) => `${r}${p}`).join(" ");
    const files = PACKAGE_FILES.map((p) => `${r}${p.directory}/${p.file}`).join(" ");
    const missing = PACKAGE_FILES.map((p) => `for d in ${r}${p.directory}; do if [ -d "$d" ] && [ ! -e "$d/${p.file}" ]; then echo "$d/${p.file}"; fi; done`);
    return [
        "echo @paths",
        `for p in ${paths}; do if [ -e "$p" ] || [ -L "$p" ]; then echo "$p"; fi; done`,
        "echo @units",
        // A name systemd still remembers with no file and nothing running ("not-found inactive") is
        // no unit: it goes at its next garbage collection.
        "systemctl list-units --all --plain --no-legend --full 'dynoform*' 'dyno-*' 2>/dev/null | awk '!($2 == \"not-found\" && $3 == \"inactive\") { print $1, $2, $3, $4 }'",
        "echo @passwd",
        `cat ${r}/etc/passwd`,
        "echo @group",
        `cat ${r}/etc/group`,
        "echo @nft",
        "nft list tables 2>/dev/null",
        "echo @marked",
        `grep -ls 'dynoform' ${files}`,
        "echo @missing",
        ...missing,
        "echo @keys",
        `grep -s ' dynoform-addons$' ${r}/root/.ssh/authorized_keys | cut -c1-60`,
        "true",
    ].join("\n");
}

function sections(output: string): Map<string, string[]> {
    const found = new Map<string, string[]>();
    let current: string[] | undefined;
    for (const line of output.split("\n")) {
        const name = /^@(\w+)$/.exec(line.trim());
        if (name) found.set(name[1], (current = []));
        else if (current && line.trim() !== "") current.push(line.trim());
    }
    return found;
}

const inBlock = (id: number, [min, max]: readonly [number, number]) => id >= min && id <= max;
const tenantId = (id: number) => inBlock(id, DYNO_UID_RANGE) || inBlock(id, BUILD_UID_RANGE);

/** One line per passwd/group entry of ours: a named user or an id in the dyno or build block. */
function accounts(lines: string[], kind: "user" | "group"): string[] {
    return lines.flatMap((line) => {
        const [name, , idText, , comment = ""] = line.split(":");
        const id = Number(idText);
        const ours = (STACK_USERS as readonly string[]).includes(name) || tenantId(id) || (kind === "user" && /dynoform/.test(comment));
        return ours ? [`${kind} ${name} (${kind === "user" ? "uid" : "gid"} ${id}) is still there`] : [];
    });
}

/** Everything of dynoform still on the host behind `exec`, one readable line each; [] when it is clean. */
export async function dynoformLeftovers(exec: Exec, options: { root?: string } = {}): Promise<string[]> {
    const root = (options.root ?? "").replace(/\/+$/, "");
    const shown = (p: string) => (root && p.startsWith(root) ? p.slice(root.length) : p);
    const found = sections(await exec(leftoversScript(root)));
    const get = (name: string) => found.get(name) ?? [];
    if (!found.has("keys")) throw new Error(`the leftovers script did not run to its end; it printed: ${[...found.keys()].join(", ") || "nothing"}`);
    return [
        ...get("paths").map((p) => `${shown(p)} is still there`),
        ...get("units").map((u) => `unit ${u.split(" ")[0]} is still loaded (${u.split(" ").slice(1).join(" ")})`),
        ...accounts(get("passwd"), "user"),
        ...accounts(get("group"), "group"),
        ...get("nft").filter((t) => /dynoform/.test(t)).map((t) => `nft ${t} is still loaded`),
        ...get("marked").map((f) => `${shown(f)} is still dynoform's, not the package's own`),
        ...get("missing").map((f) => `${shown(f)} is gone: the package's own was not put back`),
        ...get("keys").map(() => "root's authorized_keys still holds the dynoform-addons key"),
    ];
}
