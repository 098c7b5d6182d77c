// The order upgrade.mjs takes the hosts in, and what it does on each: pure, so it is tested without
// a stack. Dyno hosts first (drained, their dynos on the others meanwhile), then the edges one at a
// time (each out of the floating address meanwhile), then the data host, the control host last
// (drains go through it).

const RANK = { dyno: 0, edge: 1, data: 2, control: 3 };
const rankOf = (roles) => Math.max(...roles.map((r) => RANK[r] ?? 0));

/** --hosts a,b → names (undefined: every host); throws naming the stack's hosts for an unknown one. */
export function parseHostList(text, hosts) {
    if (text === undefined) return undefined;
    const names = String(text)
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean);
    if (names.length === 0) throw new Error(`--hosts ${text} names no host: use e.g. --hosts dyno-1,dyno-2`);
    const unknown = names.filter((n) => !hosts.some((h) => h.name === n));
    if (unknown.length) throw new Error(`--hosts: ${unknown.join(", ")} ${unknown.length === 1 ? "is" : "are"} not in dynoform:hosts (${hosts.map((h) => h.name).join(", ")})`);
    return names;
}

/**
 * [{name, roles, drain, handOff}] in upgrade order: `only` (names) or every host; `drain` for a dyno
 * host that other undrained dyno hosts can take the dynos of (`drained`: names already drained, left
 * drained after); `handOff` for an edge of a stack with a floating address: its keepalived is
 * stopped first, so another edge holds the address while this one's nginx and Varnish restart.
 */
export function upgradePlan(hosts, { only, drained = [], floatingAddress } = {}) {
    const chosen = hosts.filter((h) => !only || only.includes(h.name));
    const dynoHosts = hosts.filter((h) => (h.roles ?? []).includes("dyno")).map((h) => h.name);
    const edgeCount = hosts.filter((h) => (h.roles ?? []).includes("edge")).length;
    return chosen
        .map((h, i) => ({ h, i }))
        .sort((a, b) => rankOf(a.h.roles ?? []) - rankOf(b.h.roles ?? []) || a.i - b.i)
        .map(({ h }) => {
            const isDyno = (h.roles ?? []).includes("dyno");
            const others = dynoHosts.filter((n) => n !== h.name && !drained.includes(n));
            const handOff = Boolean(floatingAddress) && edgeCount > 1 && (h.roles ?? []).includes("edge");
            return { name: h.name, roles: h.roles ?? [], drain: isDyno && !drained.includes(h.name) && others.length > 0, handOff };
        });
}

/**
 * An edge gives up the floating address: keepalived stopped (its last advert has priority 0, so the
 * next edge takes the address at once) and masked until HAND_BACK, so an upgrade of keepalived
 * itself cannot start it again halfway.
 */
export const HAND_OFF = "systemctl mask --runtime --now --quiet keepalived.service\n";
/** The edge takes part again: the first edge takes the address back once its nginx has passed twice. */
export const HAND_BACK = "systemctl unmask --runtime --quiet keepalived.service && systemctl start keepalived.service\n";

/** The Debian upgrade a host runs: non-interactive, keeping the platform's own config files. */
export const DEBIAN_UPGRADE = `set -eu
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get -y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold upgrade
if [ -f /var/run/reboot-required ]; then echo "reboot-required"; fi
`;
