import * as pulumi from "@pulumi/pulumi";

/** The value of an Output under Pulumi's mocks. */
export function value<T>(o: pulumi.Output<T>): Promise<T> {
    return new Promise((resolve) => o.apply((v) => resolve(v)));
}
