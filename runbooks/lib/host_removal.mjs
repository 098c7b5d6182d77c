// Which entry of dynoform:hosts replace-host.mjs removes, and whether the stack can do without it:
// pure, so the refusals are tested without a stack.

/**
 * {index, entry} of `name` in `hosts` (dynoform:hosts), or throws saying why it cannot go: not a
 * host of the stack; the control or data host (their state moves with control-backup/-restore and
 * pg-backup/-restore, not with this); the last edge or dyno host; the backup host.
 */
export function removalPlan(hosts, name, { backupHost } = {}) {
    const index = hosts.findIndex((h) => h.name === name);
    if (index < 0) throw new Error(`${name} is not in dynoform:hosts: its hosts are ${hosts.map((h) => h.name).join(", ")}`);
    const entry = hosts[index];
    const roles = entry.roles ?? [];
    const others = (role) => hosts.filter((h) => h.name !== name && (h.roles ?? []).includes(role)).length;
    if (roles.includes("control")) throw new Error(`${name} is the control host: move its state with control-backup.mjs and control-restore.mjs --on NEWHOST, give NEWHOST the control role in dynoform:hosts, then remove ${name}`);
    if (roles.includes("data")) throw new Error(`${name} is the data host: it holds every app's database. Give another host the data role and restore each app there (pg-backup.mjs, pg-restore.mjs) before removing it`);
    for (const role of ["edge", "dyno"]) if (roles.includes(role) && others(role) === 0) throw new Error(`${name} is the last ${role} host: add another ${role} host to dynoform:hosts (and pulumi up) first`);
    if (backupHost === name) throw new Error(`${name} keeps the backups (dynoform:backupHost): point dynoform:backupHost at another host and pulumi up first`);
    return { index, entry };
}

/** The entry as removed lines of the stack file's dynoform:hosts list (the diff the operator confirms). */
export function entryLines(entry) {
    const lines = Object.entries(entry).map(([k, v]) => `${k}: ${Array.isArray(v) ? `[${v.join(", ")}]` : typeof v === "object" ? JSON.stringify(v) : v}`);
    return lines.map((l, i) => `-${i === 0 ? "   - " : "     "}${l}`);
}
