// The user data of an aws host: only what SSH needs (root's key, the host key the stack pinned)
// and, on the data and control hosts, their EBS volume formatted (when blank) and mounted. The
// role components do everything else over SSH, as on the servers target.

export interface UserDataArgs {
    /** root's authorized key, `"ssh-ed25519 AAAA..."`. */
    rootPublicKey: string;
    /** The host's ed25519 key pair the stack made: the public half is the one Host.ssh pins. */
    hostPrivateKey: string;
    hostPublicKey: string;
    /** The host's EBS volume (data: /var/lib/postgresql, control: /var/lib/dynoform). */
    volume?: { id: string; mountPoint: string };
}

/** Where each role's EBS volume is mounted. */
export const VOLUME_MOUNTS = { data: "/var/lib/postgresql", control: "/var/lib/dynoform" } as const;

export const MOUNT_SCRIPT_PATH = "/usr/local/sbin/dynoform-mount-volume";

// The device shows up once the stack attaches the volume, after the instance runs: on Nitro
// instances as an NVMe disk whose udev name carries the volume id, on Xen ones as /dev/xvdf
// (the attachment asks for /dev/sdf). mkfs runs only on a disk with no filesystem, so a volume
// that already holds a database or the control state is mounted as it is.
const MOUNT_SCRIPT = `#!/bin/sh
# dynoform: format (only when blank) and mount the stack's EBS volume: $1 volume id, $2 mount point.
set -eu
vol="$1"; dir="$2"
serial="$(printf %s "$vol" | tr -d -)"
dev=""
i=0
while [ -z "$dev" ]; do
  for d in "/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_$serial" /dev/xvdf /dev/sdf; do
    if [ -b "$d" ]; then dev="$(readlink -f "$d")"; break; fi
  done
  if [ -z "$dev" ]; then
    i=$((i + 1))
    if [ "$i" -gt 900 ]; then echo "dynoform: volume $vol never appeared" >&2; exit 1; fi
    sleep 1
  fi
done
if [ -z "$(blkid -p -s TYPE -o value "$dev" 2>/dev/null || true)" ]; then
  mkfs.ext4 -q -L dynoform "$dev"
fi
uuid="$(blkid -s UUID -o value "$dev")"
mkdir -p "$dir"
grep -q "^UUID=$uuid " /etc/fstab || echo "UUID=$uuid $dir ext4 defaults,nofail,x-systemd.device-timeout=60s 0 2" >> /etc/fstab
mountpoint -q "$dir" || mount "$dir"
`;

/**
 * The cloud-config document (JSON, which cloud-init reads as YAML) for one host. cloud-init
 * installs the host key in its network stage, before sshd first starts, so sshd never answers
 * with a key other than the pinned one; it makes no other host key types.
 */
export function awsUserData(args: UserDataArgs): string {
    const doc: Record<string, unknown> = {
        disable_root: false,
        ssh_pwauth: false,
        ssh_deletekeys: true,
        ssh_genkeytypes: [],
        ssh_keys: {
            ed25519_private: args.hostPrivateKey.endsWith("\n") ? args.hostPrivateKey : `${args.hostPrivateKey}\n`,
            ed25519_public: args.hostPublicKey.trim(),
        },
        ssh_authorized_keys: [args.rootPublicKey.trim()],
    };
    if (args.volume) {
        doc.write_files = [{ path: MOUNT_SCRIPT_PATH, permissions: "0755", owner: "root:root", content: MOUNT_SCRIPT }];
        doc.runcmd = [[MOUNT_SCRIPT_PATH, args.volume.id, args.volume.mountPoint]];
    }
    return `#cloud-config\n${JSON.stringify(doc, null, 2)}\n`;
}

/** Parses what awsUserData made (for tests and for reading a host's user data back). */
export function parseAwsUserData(text: string): Record<string, unknown> {
    if (!text.startsWith("#cloud-config\n")) throw new Error("not a cloud-config document");
    return JSON.parse(text.slice("#cloud-config\n".length)) as Record<string, unknown>;
}

/**
 * Run over SSH before any role component touches the host: waits until cloud-init has finished
 * (the volume mounted, apt free) and checks the mount, so PostgreSQL and the control state never
 * land on the root disk under a mount point.
 */
export function readyCommand(mountPoint?: string): string {
    const lines = ["cloud-init status --wait >/dev/null 2>&1 || true"];
    if (mountPoint) {
        lines.push(
            `mountpoint -q ${mountPoint} || { echo "dynoform: the EBS volume is not mounted at ${mountPoint}; cloud-init's output follows" >&2; tail -n 30 /var/log/cloud-init-output.log >&2; exit 1; }`,
        );
    }
    return lines.join("\n");
}
