// A holder's token file or sent value outside a rotation in phases depends on the secret's current
// value alone: a GeneratedSecret whose state has no `previous` (every one outside a rotation, and
// every one made before rotations had phases) gives an unknown `previous` in a preview, and a file
// waiting on it showed as changed in every `pulumi preview` (lab 10-foundation caught it).
import * as pulumi from "@pulumi/pulumi";
import { unknown } from "@pulumi/pulumi/output";
import { acceptedFile, acceptedValues, sentValue } from "../../components/secrets/rotating_values";

const known = (o: pulumi.Output<unknown>): Promise<boolean> => (o as unknown as { isKnown: Promise<boolean> }).isKnown;
const value = <T>(o: pulumi.Output<T>): Promise<T> => new Promise((resolve) => o.apply((v) => resolve(v)));

const secret = { value: pulumi.output("current"), previous: pulumi.output(unknown) as pulumi.Output<string | undefined> };

test("outside a rotation: the checker's file and the sent value are known without `previous`", async () => {
    expect(await known(acceptedFile(secret, undefined))).toBe(true);
    expect(await known(sentValue(secret, undefined))).toBe(true);
    expect(await value(acceptedValues(secret, undefined))).toEqual(["current"]);
});

test("during a rotation: checkers accept both and senders send the previous one until they switch", async () => {
    const rotating = { value: pulumi.output("new"), previous: pulumi.output("old") as pulumi.Output<string | undefined> };
    expect(await value(acceptedValues(rotating, "accept"))).toEqual(["new", "old"]);
    expect(await value(sentValue(rotating, "accept"))).toBe("old");
    expect(await value(acceptedValues(rotating, "switch"))).toEqual(["new", "old"]);
    expect(await value(sentValue(rotating, "switch"))).toBe("new");
});
