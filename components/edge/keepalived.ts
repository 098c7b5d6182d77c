// The floating address's VRRP settings (templates/keepalived): pure, so the rendered config is
// unit-tested. The Edge component puts them on each edge.
import { render } from "../templates/render";

/** Where keepalived.conf is read from (Debian's keepalived.service). */
export const KEEPALIVED_CONF = "/etc/keepalived/keepalived.conf";
/** The ExecStartPre script that finds the interface holding the host's private address. */
export const INTERFACE_SCRIPT = "/usr/local/sbin/dynoform-keepalived-interface";
/**
 * What that script writes and keepalived.conf includes: `interface <name>`. Its directory is the
 * unit's RuntimeDirectory: systemd makes it before each start and removes it after each stop.
 */
export const RUNTIME_DIRECTORY = "dynoform-keepalived";
export const INTERFACE_FILE = `/run/${RUNTIME_DIRECTORY}/interface.conf`;

/**
 * Seconds between adverts (VRRPv3 counts in centiseconds). A backup declares the master dead after
 * the master-down interval, 3 × advert + skew, skew = (256 − priority) / 256 × advert: with 0.3 s and
 * the second edge's priority 190, 0.9 + 0.077 = 0.977 s. Shorter would notice sooner but mistake a
 * busy master (the lab's shared cores) for a dead one.
 */
export const ADVERT_INTERVAL_S = 0.3;
/** The VRRP router id of the stack's one instance; adverts are unicast to the other edges, so it only needs to differ from other VRRP on their network. */
export const VIRTUAL_ROUTER_ID = 51;
/** The first edge's priority; each next edge's is 10 lower. */
const TOP_PRIORITY = 200;
const PRIORITY_STEP = 10;

/** The priority of the edge at `index` (stack order): the first edge is the preferred master. */
export function vrrpPriority(index: number): number {
    return TOP_PRIORITY - PRIORITY_STEP * index;
}

/**
 * What a down nginx takes off an edge's priority: enough to put the first edge below the last of
 * `edgeCount` (200 − 10 × count < 200 − 10 × (count − 1)), so any edge whose nginx runs wins.
 */
export function nginxWeight(edgeCount: number): number {
    return PRIORITY_STEP * edgeCount;
}

/** RFC 5798's master-down interval for a backup of `priority`, in milliseconds. */
export function masterDownIntervalMs(priority: number, advertS = ADVERT_INTERVAL_S): number {
    const skew = ((256 - priority) * advertS) / 256;
    return Math.round((3 * advertS + skew) * 1000);
}

export interface VrrpSpec {
    hostName: string;
    floatingAddress: string;
    /** Every edge's private address, in stack order. */
    edgeAddresses: string[];
    /** This edge's place in edgeAddresses. */
    index: number;
}

/** templates/keepalived/keepalived.conf for the edge at `spec.index`. */
export function keepalivedConfig(spec: VrrpSpec): string {
    const own = spec.edgeAddresses[spec.index];
    if (own === undefined) throw new Error(`keepalived: edge ${spec.hostName} (index ${spec.index}) is not among the ${spec.edgeAddresses.length} edges`);
    const peers = spec.edgeAddresses.filter((_a, i) => i !== spec.index);
    // An empty unicast_peer block would make keepalived fall back to multicast: the stack config refuses one edge.
    if (peers.length === 0) throw new Error(`keepalived: edge ${spec.hostName} has no peer edge (a floating address needs two or more edges)`);
    return render("keepalived/keepalived.conf", {
        hostName: spec.hostName,
        floatingAddress: spec.floatingAddress,
        privateAddress: own,
        peers: peers.map((p) => `        ${p}`).join("\n"),
        priority: vrrpPriority(spec.index),
        nginxWeight: nginxWeight(spec.edgeAddresses.length),
        advertInterval: ADVERT_INTERVAL_S,
        virtualRouterId: VIRTUAL_ROUTER_ID,
        interfaceFile: INTERFACE_FILE,
    });
}

/** The ExecStartPre script (templates/keepalived/dynoform-keepalived-interface). */
export function interfaceScript(): string {
    return render("keepalived/dynoform-keepalived-interface", { interfaceFile: INTERFACE_FILE });
}

/** keepalived.service's drop-in: find the interface before each start (its file goes with the runtime directory at stop). */
export function keepalivedDropIn(privateAddress: string): string {
    return render("keepalived/keepalived.override.conf", { privateAddress, runtimeDirectory: RUNTIME_DIRECTORY });
}
