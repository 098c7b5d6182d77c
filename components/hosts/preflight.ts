// The servers target's check of each machine before anything is provisioned on it, and the last
// sweep on it when the stack is destroyed (templates/hosts/preflight.sh, remove-host.sh).
import * as pulumi from "@pulumi/pulumi";
import { RemoteCommand } from "../remote";
import { APT_LOCK } from "../remote/apt-provider";
import { render, renderOutput } from "../templates/render";
import type { Host } from "./host";

/** Free space on / a host needs: Debian packages, slugs, builds and PostgreSQL. */
export const MIN_FREE_MB = 2048;

/**
 * Directories the stack's files live in and nothing else puts files into, deepest first: the
 * sweep removes each one that is empty once every role's resources are gone.
 */
export const STACK_DIRECTORIES = ["/etc/dynoform/tls", "/etc/dynoform", "/etc/nginx/dynoform", "/usr/local/lib/dynoform"] as const;

/** The check script for one host (every problem with its fix on stderr, exit 1; a summary line when ready). */
export function preflightScript(hostName: string, privateAddress: string, minFreeMb = MIN_FREE_MB): string {
    return render("hosts/preflight.sh", { hostName, privateAddress, minFreeMb });
}

/** The sweep run on destroy, after everything else on the host (other paths: tests). */
export function removeHostScript(directories: readonly string[] = STACK_DIRECTORIES, aptLock = APT_LOCK): string {
    return render("hosts/remove-host.sh", { directories: directories.join(" "), aptLock });
}

/**
 * `host` checked first: a RemoteCommand runs the preflight on it, and the Host returned reaches it
 * only through that check (its `ssh` carries the check as a dependency). So every resource of every
 * role on the host waits for the check, and a destroy removes them all before the check's own
 * delete sweeps what they left (STACK_DIRECTORIES).
 */
export function preflightHost(host: Host, minFreeMb = MIN_FREE_MB): Host {
    const check = new RemoteCommand(`${host.name}-preflight`, {
        connection: host.ssh,
        label: `preflight of ${host.name}`,
        create: renderOutput("hosts/preflight.sh", { hostName: host.name, privateAddress: host.privateAddress, minFreeMb }),
        delete: removeHostScript(),
    });
    // Secret as host.ssh is (it holds the private key): all() keeps that.
    return { ...host, ssh: pulumi.all([check.id, host.ssh]).apply(([, ssh]) => ssh) };
}
