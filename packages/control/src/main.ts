// dynoform-control entry point (bundled into the SEA binary). The logic lives in control_main.ts.
import { main } from "./control_main";

main(process.argv.slice(2), process.env, {
    stdout: (s) => process.stdout.write(s),
    stderr: (s) => process.stderr.write(s),
    stdin: process.stdin,
}).then(
    (code) => {
        process.exitCode = code;
    },
    (err) => {
        process.stderr.write(`${err}\n`);
        process.exitCode = 2;
    },
);
