// A host's platform services as systemd reports them (status.mjs shows them, upgrade.mjs waits for
// them between hosts): the units of each role, those installed and switched on for this host.
/** The platform's units; a host shows those installed on it (its roles decide which). */
export const UNITS = ["nginx.service", "varnish.service", "dynoform-router.service", "dynoform-agent.service", "dynoform-control.service", "dynoform-firewall.service", "postgresql@*.service", "memcached@*.service", "keepalived.service"];

/**
 * `systemctl list-units` lines, each with the unit's `is-enabled` state appended → [{unit, active,
 * sub}] of the host's platform services. A unit that is installed but disabled and not running is
 * not one of this host's services (a machine image may carry every role's packages, switched off).
 */
export function parseUnits(text) {
    return text
        .split("\n")
        .map((l) => l.trim().split(/\s+/))
        .filter((f) => f.length >= 5 && f[1] === "loaded" && !(f[2] === "inactive" && f[4] === "disabled"))
        .map(([unit, , active, sub]) => ({ unit: unit.replace(/\.service$/, ""), active, sub }));
}

/** {name, reachable, why?, units} of one host of `hosts` (a StackHosts). */
export async function hostStatus(hosts, name) {
    const list = `systemctl list-units --all --plain --no-legend --type=service ${UNITS.map((u) => `'${u}'`).join(" ")}`;
    const r = await hosts.run(name, `${list} | while read -r unit load active sub rest; do echo "$unit $load $active $sub $(systemctl is-enabled "$unit" 2>/dev/null || true)"; done`);
    if (r.code !== 0) return { name, reachable: false, why: (r.stderr.trim().split("\n").pop() || `exit ${r.code}`).slice(0, 160), units: [] };
    return { name, reachable: true, units: parseUnits(r.stdout) };
}
