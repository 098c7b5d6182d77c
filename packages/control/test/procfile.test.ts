import { describeTypes, formationTypes, parseProcfile, ProcessTypes, ProcfileError, releaseCommand } from "../src/procfile";

/** Process types as Procfile text. */
const formatProcfile = (types: ProcessTypes): string => Object.entries(types).map(([t, c]) => `${t}: ${c}\n`).join("");

describe("parseProcfile", () => {
    test("types in file order; comments, blank lines, CRLF and BOM ignored", () => {
        const text = "\uFEFF# my app\r\nweb: node server.js --port $PORT\r\n\r\n  worker:node worker.js  \nrelease: node migrate.js\n# the end\n";
        const types = parseProcfile(text);
        expect(types).toEqual({ web: "node server.js --port $PORT", worker: "node worker.js", release: "node migrate.js" });
        expect(Object.keys(types)).toEqual(["web", "worker", "release"]);
        expect(formationTypes(types)).toEqual(["web", "worker"]);
        expect(releaseCommand(types)).toBe("node migrate.js");
        expect(describeTypes(types)).toBe("web, worker, release");
    });

    test("commands keep colons, equals signs and quotes", () => {
        expect(parseProcfile('web: env A=b:c node -e "console.log(1)"')).toEqual({ web: 'env A=b:c node -e "console.log(1)"' });
    });

    test("type names may use lower-case letters, digits, _ and -", () => {
        expect(Object.keys(parseProcfile("web-2: a\nmy_worker: b\nw9: c"))).toEqual(["web-2", "my_worker", "w9"]);
    });

    test("empty Procfile has no types", () => {
        expect(parseProcfile("# nothing\n\n")).toEqual({});
        expect(releaseCommand({ web: "x" })).toBeUndefined();
    });

    test.each([
        ["web npm start", 'Procfile line 1: "web npm start" is not "<type>: <command>"; write it as "web: npm start"'],
        ["web: a\nweb.1: b", 'Procfile line 2: process type "web.1" may only contain letters, digits, "_" and "-"; rename it (e.g. "web_1")'],
        // the dyno hosts' rule (packages/contract): refused here, not at rollout
        ["W9: c", 'Procfile line 1: process type "W9" must be lower case, start with a letter and have at most 31 characters; rename it (e.g. "w9")'],
        ["run: rake", 'Procfile line 1: process type "run" is reserved for one-off dynos (dynoform run); rename it (e.g. "runner")'],
        ["\n\nworker:", 'Procfile line 3: process type "worker" has no command; write "worker: <command>"'],
        ["web: a\n# c\nweb: b", 'Procfile line 3: process type "web" is declared twice; keep one "web:" line'],
        [": npm start", 'Procfile line 1: ": npm start" is not "<type>: <command>"'],
    ])("%p → %s", (text, message) => {
        let err: unknown;
        try {
            parseProcfile(text);
        } catch (e) {
            err = e;
        }
        expect(err).toBeInstanceOf(ProcfileError);
        expect((err as Error).message).toBe(message);
    });

    test("format round-trips", () => {
        const types = { web: "npm start", worker: "node w.js" };
        expect(parseProcfile(formatProcfile(types))).toEqual(types);
    });
});
