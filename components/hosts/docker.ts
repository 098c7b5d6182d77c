// Host source `docker`: each host a container booting systemd (Debian bookworm, sshd) on one Docker
// engine, at its static address on a user-defined bridge network whose subnet is the stack's
// privateSubnet. Pulumi reaches every sshd through a port the Docker host publishes (why:
// components/hosts/README.md), with a root key and a host key the stack makes and puts into the container.
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import type * as DockerModule from "@pulumi/docker";
import type { DockerSpec, HostSpec, StackConfig } from "../config/stack_config";
import { SshKeyPair } from "../secrets/ssh_keypair";
import type { Host } from "./host";

/** The image recipe: templates/docker/Dockerfile (the directory is the build context). */
export const DOCKER_RECIPE_DIR = path.resolve(__dirname, "..", "..", "templates", "docker");

export interface PublishedPort {
    internal: number;
    external: number;
    ip: string;
    protocol: "tcp";
}

/**
 * What a host's container publishes on the Docker host: its sshd for Pulumi (every host), 80/443
 * (the edge) and its sshd again for git (the control host). Nothing else: every internal service
 * answers on the Docker network only.
 */
export function publishedPorts(spec: HostSpec, docker: DockerSpec): PublishedPort[] {
    // The host's SSH port (the stack config's): sshd listens there inside the container, and the
    // Docker host publishes it there.
    const sshPort = spec.port;
    const ports: PublishedPort[] = [{ internal: sshPort, external: sshPort, ip: docker.ssh.bind, protocol: "tcp" }];
    if (spec.roles.includes("edge")) {
        ports.push({ internal: 80, external: docker.publish.http, ip: docker.publish.address, protocol: "tcp" });
        ports.push({ internal: 443, external: docker.publish.https, ip: docker.publish.address, protocol: "tcp" });
    }
    if (spec.roles.includes("control")) {
        ports.push({ internal: sshPort, external: docker.publish.git, ip: docker.publish.address, protocol: "tcp" });
    }
    return ports;
}

/**
 * Where users push and run verbs (git@control): the control host's published sshd. Published on
 * every address (0.0.0.0) it is dialled where Pulumi dials the hosts' sshd.
 */
export function dockerGitEndpoint(docker: DockerSpec): { host: string; port: number } {
    return { host: docker.publish.address === "0.0.0.0" ? docker.ssh.address : docker.publish.address, port: docker.publish.git };
}

/** The container's name on the engine: `<network>-<host>`, as the lab names its machines. */
export function containerName(docker: DockerSpec, host: string): string {
    return `${docker.network}-${host}`;
}

const ROOT_OWNED = { owner: "0", group: "0" };

const withNewline = (text: string): string => (text.endsWith("\n") ? text : `${text}\n`);

/**
 * One container per host of the stack config (validated for the docker target), mapped to the
 * Host interface: SSH as root to the host's published port, the stack's key a secret, the
 * container's host key pinned. `@pulumi/docker` is loaded here, so only a docker stack needs it.
 */
export function dockerHosts(config: StackConfig): Host[] {
    const docker = config.docker;
    if (config.target !== "docker" || docker === undefined) {
        throw new Error("dockerHosts: the stack config has no dynoform:docker section (set dynoform:target docker; see stacks/Pulumi.docker.example.yaml)");
    }
    const d = require("@pulumi/docker") as typeof DockerModule;

    const provider = new d.Provider("docker", { host: docker.host });
    const network = new d.Network(
        `${docker.network}-network`,
        {
            name: docker.network,
            driver: "bridge",
            ipamConfigs: [{ subnet: config.privateSubnet, gateway: docker.gateway }],
        },
        { provider },
    );
    const image = new d.Image(
        `${docker.network}-image`,
        {
            imageName: `dynoform-host:bookworm-${docker.image}`,
            build: { context: DOCKER_RECIPE_DIR, dockerfile: path.join(DOCKER_RECIPE_DIR, "Dockerfile"), args: { DYNOFORM_IMAGE: docker.image } },
            skipPush: true,
        },
        { provider },
    );

    return config.hosts.map((spec) => {
        const hostKey = new SshKeyPair(`${spec.name}-docker-host-key`, { comment: `dynoform-host-${spec.name}` });
        const rootKey = new SshKeyPair(`${spec.name}-docker-root-key`, { comment: `dynoform-root-${spec.name}` });
        const container = new d.Container(
            spec.name,
            {
                name: containerName(docker, spec.name),
                hostname: spec.name,
                // By name, not digest: a rebuilt image does not replace running hosts (and their
                // databases); a host takes the new image when it is made again.
                image: image.imageName,
                // systemd as PID 1: its own cgroup namespace, writable cgroups and nftables (the
                // host firewall) need a privileged container; /run and /run/lock are tmpfs as
                // systemd expects, and SIGRTMIN+3 is its request for a clean halt.
                privileged: true,
                cgroupnsMode: "private",
                tmpfs: { "/run": "rw,nosuid,nodev,mode=755", "/run/lock": "rw,nosuid,nodev,noexec,mode=1777" },
                envs: ["container=docker"],
                stopSignal: "SIGRTMIN+3",
                stopTimeout: 30,
                destroyGraceSeconds: 30,
                // A reboot inside (`systemctl reboot`) ends PID 1: the engine starts it again, with
                // the same filesystem, keys and address, as the lab's launcher does.
                restart: "unless-stopped",
                mustRun: true,
                // Only the stack's network: networkMode names it so the engine attaches no default bridge.
                networkMode: network.name,
                networksAdvanced: [{ name: network.name, ipv4Address: spec.address }],
                ports: publishedPorts(spec, docker),
                // Written into the container before it starts, so sshd's first start has its key; owned
                // by root by number (a name would be looked up on the machine running Pulumi), as
                // sshd's StrictModes wants.
                uploads: [
                    { file: "/etc/ssh/ssh_host_ed25519_key", content: pulumi.secret(hostKey.privateKey.apply(withNewline)), permissions: "0600", ...ROOT_OWNED },
                    { file: "/etc/ssh/ssh_host_ed25519_key.pub", content: hostKey.publicKey.apply(withNewline), permissions: "0644", ...ROOT_OWNED },
                    { file: "/root/.ssh/authorized_keys", content: rootKey.publicKey.apply(withNewline), permissions: "0600", ...ROOT_OWNED },
                    // The same port inside as on the Docker host, so the host's one SSH port also
                    // serves the other hosts on the network and is the one its firewall opens.
                    { file: "/etc/ssh/sshd_config.d/20-dynoform-port.conf", content: `Port ${spec.port}\n`, permissions: "0644", ...ROOT_OWNED },
                ],
            },
            { provider, additionalSecretOutputs: ["uploads"], deleteBeforeReplace: true },
        );
        // Every address and the connection carry the container, so nothing dials it before it exists.
        const address = container.id.apply(() => spec.address);
        const ssh = pulumi.secret(
            pulumi.all([container.id, hostKey.publicKey, rootKey.privateKey]).apply(([, pinned, privateKey]) => ({
                name: spec.name,
                host: docker.ssh.address,
                port: spec.port,
                user: "root",
                privateKey: withNewline(privateKey),
                hostKey: pinned,
            })),
        );
        return {
            name: spec.name,
            privateAddress: address,
            publicAddress: address,
            privateSubnet: pulumi.output(config.privateSubnet),
            ssh,
            // Users push to the control host's sshd where the Docker host publishes it, not at its
            // address on the Docker network.
            ...(spec.roles.includes("control") ? { publicSsh: container.id.apply(() => dockerGitEndpoint(docker)) } : {}),
        };
    });
}
