import * as pulumi from "@pulumi/pulumi";
import { SshConnection } from "../remote/connection";

/** What every host source (lab, servers, aws, docker) yields for each host. */
export interface Host {
    name: string;
    /** Address on the private network: internal services bind here only. */
    privateAddress: pulumi.Output<string>;
    /** Address clients use (the edge's public side). Equal to privateAddress in the lab. */
    publicAddress: pulumi.Output<string>;
    /** CIDR of the private network, for pg_hba and firewalls. */
    privateSubnet: pulumi.Output<string>;
    /**
     * How to reach it. A host source may make this wait for a check of the machine (servers: the
     * preflight, components/hosts/preflight.ts): everything provisioned through it then waits too.
     */
    ssh: pulumi.Output<SshConnection>;
    /**
     * Where clients outside the private network (git push, the CLI) reach this host's sshd when
     * that is not `publicAddress` and `ssh`'s port: on docker, the port the Docker host publishes.
     */
    publicSsh?: pulumi.Output<{ host: string; port: number }>;
}
