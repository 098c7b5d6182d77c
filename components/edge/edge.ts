import * as pulumi from "@pulumi/pulumi";
import { Host } from "../hosts/host";
import { AptPackages, RemoteCommand, RemoteFile, SystemdService } from "../remote";
import { render, renderOutput } from "../templates/render";
import { INTERFACE_SCRIPT, KEEPALIVED_CONF, interfaceScript, keepalivedConfig, keepalivedDropIn } from "./keepalived";

export interface RouterEndpoint {
    address: pulumi.Input<string>;
    port: number;
}

export interface EdgeArgs {
    host: Host;
    /** Apps answer at <app>.<domain>. */
    domain: string;
    /** Varnish's backends: every router of the mesh. */
    routers: RouterEndpoint[];
    varnishPort: number;
    varnishCacheSize: string;
    /** The control host's REST API (private address:port), served at api.<domain>. */
    apiAddress: pulumi.Input<string>;
    /** A certificate to serve on :443; a self-signed one is generated when absent. */
    tls?: { certificate: pulumi.Input<string>; key: pulumi.Input<string> };
    /** Who may ban this edge's cached objects (cache:purge, and every new release): the control host's private address and its token. */
    purge: { controlAddress: pulumi.Input<string>; token: pulumi.Input<string> };
    /** dynoform:floatingAddress: keepalived on this edge moves it between the edges (in stack order, this one at `index`). */
    floating?: FloatingAddressArgs;
}

export interface FloatingAddressArgs {
    address: string;
    /** Every edge's private address, in stack order: the VRRP peers. */
    edgeAddresses: pulumi.Input<string>[];
    /** This edge's place among them: the first is the preferred master. */
    index: number;
}

/** Varnish backends and director lines for the routers. A connect gets half a second: the routers
 * are on the private network, so a router that takes longer is gone (its edge died) and the request
 * goes to the next one (default.vcl's retry). The other timeouts sit above the router's own
 * (first byte: H12 at 30 s from arrival plus a 5 s connect; idle: H15 at 55 s) and below nginx's
 * (75 s), so the innermost layer answers, with its H-code and log line. */
export function varnishBackends(routers: { address: string; port: number }[]): { backends: string; directorAdds: string } {
    const backends = routers
        .map(
            (r, i) =>
                `backend router_${i} {\n    .host = "${r.address}";\n    .port = "${r.port}";\n    .probe = router_health;\n` +
                `    .connect_timeout = 0.5s;\n    .first_byte_timeout = 65s;\n    .between_bytes_timeout = 65s;\n}`,
        )
        .join("\n\n");
    const directorAdds = routers.map((_r, i) => `    routers.add_backend(router_${i});`).join("\n");
    return { backends, directorAdds };
}

/** The VCL's purger ACL: one address per line. */
export function purgerAcl(addresses: string[]): string {
    return addresses.map((a) => `    "${a}";`).join("\n");
}

/** Every placeholder of templates/varnish/default.vcl. */
export function vclVars(routers: { address: string; port: number }[], purge: { controlAddress: string; token: string }): Record<string, string> {
    // It goes into a VCL string: letters, digits, - and _ only (a GeneratedSecret is hex).
    if (!/^[A-Za-z0-9_-]{16,}$/.test(purge.token)) throw new Error("the Varnish purge token must be 16 or more letters, digits, - or _ (a GeneratedSecret's hex)");
    return { ...varnishBackends(routers), purgerAcl: purgerAcl([purge.controlAddress]), purgeToken: purge.token };
}

const TLS_DIR = "/etc/dynoform/tls";

/**
 * Self-signed certificate for the platform domain, made on the host once if none is there. The
 * checksum beside it marks it as ours: a certificate the user put there is never one the stack removes.
 */
export function selfSignedCertificateCommand(domain: string, dir = TLS_DIR): string {
    return [
        "set -e",
        `install -d -m 0755 ${dir}`,
        `if [ ! -s ${dir}/edge.crt ] || [ ! -s ${dir}/edge.key ]; then`,
        `  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 825 ` +
            `-subj "/CN=${domain}" -addext "subjectAltName=DNS:${domain},DNS:*.${domain}" ` +
            `-keyout ${dir}/edge.key -out ${dir}/edge.crt 2>/dev/null`,
        `  chmod 0600 ${dir}/edge.key`,
        `  (cd ${dir} && sha256sum edge.crt >.self-signed)`,
        "fi",
    ].join("\n");
}

/** On destroy: the self-signed certificate goes if it is still the one made here, then the directory if empty. */
export function removeSelfSignedCertificateCommand(dir = TLS_DIR): string {
    return [
        `if [ -f ${dir}/.self-signed ] && (cd ${dir} && sha256sum -c --status .self-signed); then rm -f ${dir}/edge.crt ${dir}/edge.key; fi`,
        `rm -f ${dir}/.self-signed`,
        `rmdir ${dir} 2>/dev/null || true`,
    ].join("\n");
}

/**
 * The edge role: nginx (TLS, gzip, X-Forwarded-*, X-Request-Start) in front of Varnish, which
 * caches what apps mark cacheable and balances over the routers of the mesh.
 */
export class Edge extends pulumi.ComponentResource {
    public readonly url: pulumi.Output<string>;

    constructor(name: string, args: EdgeArgs, opts?: pulumi.ComponentResourceOptions) {
        super("dynoform:edge:Edge", name, {}, opts);
        const connection = args.host.ssh;
        const child = { parent: this };

        const packages = new AptPackages(`${name}-packages`, { connection, packages: ["nginx", "varnish", "openssl"] }, child);
        const afterPackages = { parent: this, dependsOn: [packages] };

        // nginx reloads when the certificate changes: the files' hashes, or the self-signed one's domain.
        let tlsFiles: pulumi.Resource[];
        let tlsTriggers: pulumi.Input<string>[];
        if (args.tls) {
            const cert = new RemoteFile(`${name}-tls-cert`, { connection, path: `${TLS_DIR}/edge.crt`, content: args.tls.certificate, mode: "0644" }, afterPackages);
            const key = new RemoteFile(`${name}-tls-key`, { connection, path: `${TLS_DIR}/edge.key`, content: pulumi.secret(args.tls.key), mode: "0600" }, afterPackages);
            tlsFiles = [cert, key];
            tlsTriggers = [cert.sha256, key.sha256];
        } else {
            tlsFiles = [
                new RemoteCommand(
                    `${name}-tls-self-signed`,
                    { connection, create: selfSignedCertificateCommand(args.domain), delete: removeSelfSignedCertificateCommand(), triggers: [args.domain] },
                    afterPackages,
                ),
            ];
            tlsTriggers = [args.domain];
        }

        const varnishAddress = pulumi.interpolate`${args.host.privateAddress}:${args.varnishPort}`;

        const nginxFiles = [
            new RemoteFile(`${name}-nginx-conf`, { connection, path: "/etc/nginx/nginx.conf", content: render("nginx/nginx.conf", { clientMaxBodySize: "100m" }), keepOriginal: true }, afterPackages),
            new RemoteFile(
                `${name}-nginx-edge`,
                {
                    connection,
                    path: "/etc/nginx/dynoform/edge.conf",
                    content: renderOutput("nginx/edge.conf", { varnishAddress, domain: args.domain, apiAddress: args.apiAddress }),
                },
                afterPackages,
            ),
        ];

        const vclText = pulumi
            .all([pulumi.all(args.routers.map((r) => pulumi.all([r.address, r.port]))), args.purge.controlAddress, args.purge.token])
            .apply(([list, controlAddress, token]) => render("varnish/default.vcl", vclVars(list.map(([address, port]) => ({ address, port })), { controlAddress, token })));
        // The VCL holds the purge token: root and the varnish group only (varnishd -j unix reads -f files with that group, not as root).
        const vcl = new RemoteFile(
            `${name}-vcl`,
            { connection, path: "/etc/varnish/default.vcl", content: pulumi.secret(vclText), mode: "0640", owner: "root:varnish", keepOriginal: true },
            afterPackages,
        );
        const varnishDropIn = renderOutput("varnish/varnish.override.conf", {
            listenAddress: args.host.privateAddress,
            listenPort: args.varnishPort,
            cacheSize: args.varnishCacheSize,
        });

        const varnish = new SystemdService(
            `${name}-varnish`,
            { connection, unit: "varnish", dropIn: varnishDropIn, restartTriggers: [vcl.sha256] },
            { parent: this, dependsOn: [packages, vcl] },
        );
        const nginx = new SystemdService(
            `${name}-nginx`,
            { connection, unit: "nginx", reloadTriggers: [...nginxFiles.map((f) => f.sha256), ...tlsTriggers] },
            { parent: this, dependsOn: [packages, varnish, ...nginxFiles, ...tlsFiles] },
        );
        if (args.floating) this.floatingAddress(name, args.host, args.floating, nginx);

        // nginx listens on every address (templates/nginx/edge.conf), the floating one included.
        this.url = args.floating ? pulumi.output(`http://${args.floating.address}/`) : pulumi.interpolate`http://${args.host.publicAddress}/`;
        this.registerOutputs({ url: this.url });
    }

    /**
     * keepalived (VRRPv3, unicast to the other edges) holding the floating address on one live edge;
     * restarted when its config or the interface script changes. On delete the service stops (and
     * releases the address) before its files go.
     */
    private floatingAddress(name: string, host: Host, floating: FloatingAddressArgs, nginx: SystemdService): void {
        const connection = host.ssh;
        const packages = new AptPackages(`${name}-keepalived-packages`, { connection, packages: ["keepalived"] }, { parent: this });
        const afterPackages = { parent: this, dependsOn: [packages] };
        const config = pulumi
            .all(floating.edgeAddresses)
            .apply((edgeAddresses) => keepalivedConfig({ hostName: host.name, floatingAddress: floating.address, edgeAddresses, index: floating.index }));
        // Debian's package ships no keepalived.conf; one an operator had there is kept and put back on destroy.
        const conf = new RemoteFile(`${name}-keepalived-conf`, { connection, path: KEEPALIVED_CONF, content: config, mode: "0644", keepOriginal: true }, afterPackages);
        const script = new RemoteFile(`${name}-keepalived-interface`, { connection, path: INTERFACE_SCRIPT, content: interfaceScript(), mode: "0755" }, afterPackages);
        new SystemdService(
            `${name}-keepalived`,
            { connection, unit: "keepalived", dropIn: host.privateAddress.apply(keepalivedDropIn), restartTriggers: [conf.sha256, script.sha256] },
            { parent: this, dependsOn: [packages, conf, script, nginx] },
        );
    }
}
