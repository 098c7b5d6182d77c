import { describeChange, formatConfig, formatJson, formatShell, keyProblem, parseAssignments, parseKeys, withSet, withUnset } from "../src/config_vars";
import { UserError } from "../src/errors";
import { execFileSync } from "node:child_process";

describe("parseAssignments", () => {
    test("value is everything after the first =, may be empty or contain spaces", () => {
        expect(parseAssignments(["FOO=bar", "URL=postgres://u:p@h/db?a=b", "EMPTY=", "_X1=a b"])).toEqual({
            FOO: "bar",
            URL: "postgres://u:p@h/db?a=b",
            EMPTY: "",
            _X1: "a b",
        });
    });
    test("last assignment of a key wins", () => {
        expect(parseAssignments(["A=1", "A=2"])).toEqual({ A: "2" });
    });
    test.each([
        [[], /^Usage: dynoform config:set KEY1=VALUE1/],
        [["FOO"], /^FOO is invalid: use the format FOO=value$/],
        [["1FOO=x"], /^"1FOO" is not a valid config var name: .* \(e\.g\. _1FOO\)$/],
        [["MY-VAR=x"], /\(e\.g\. MY_VAR\)$/],
        [["=x"], /^"" is not a valid config var name/],
        [["PORT=80"], /^PORT is set by dynoform in every dyno and cannot be changed/],
        [["DYNO=web.1"], /^DYNO is set by dynoform/],
        [["DYNOFORM_TOKEN=x"], /^DYNOFORM_TOKEN is set by dynoform/],
    ])("%p is refused with a one-line fix", (args, message) => {
        let err: unknown;
        try {
            parseAssignments(args as string[]);
        } catch (e) {
            err = e;
        }
        expect(err).toBeInstanceOf(UserError);
        expect((err as Error).message).toMatch(message);
        expect((err as Error).message).not.toContain("\n");
    });
    test("keyProblem accepts ordinary names", () => {
        expect(keyProblem("DATABASE_URL")).toBeUndefined();
        expect(keyProblem("lower_case")).toBeUndefined();
    });
});

describe("parseKeys", () => {
    test("dedupes, validates", () => {
        expect(parseKeys(["A", "B", "A"])).toEqual(["A", "B"]);
        expect(() => parseKeys([])).toThrow(/^Usage: dynoform config:unset KEY1/);
        expect(() => parseKeys(["A=1"])).toThrow(/"A=1" is not a valid config var name/);
    });
});

describe("changes", () => {
    test("set/unset do not mutate the input", () => {
        const cur = { A: "1", B: "2" };
        expect(withSet(cur, { B: "3", C: "4" })).toEqual({ A: "1", B: "3", C: "4" });
        expect(withUnset(cur, ["A", "Z"])).toEqual({ B: "2" });
        expect(cur).toEqual({ A: "1", B: "2" });
    });
    test("release descriptions", () => {
        expect(describeChange("Set", ["FOO"])).toBe("Set FOO config vars");
        expect(describeChange("Remove", ["FOO", "BAR"])).toBe("Remove FOO, BAR config vars");
    });
});

describe("output", () => {
    const vars = { MEMCACHE_SERVERS: "10.0.0.4:11211", A: "x", DATABASE_URL: "postgres://u:p@10.0.0.4/myapp" };
    test("heroku config shape: header, sorted, aligned", () => {
        expect(formatConfig("myapp", vars)).toEqual([
            "=== myapp Config Vars",
            "A:                x",
            "DATABASE_URL:     postgres://u:p@10.0.0.4/myapp",
            "MEMCACHE_SERVERS: 10.0.0.4:11211",
        ]);
        expect(formatConfig("myapp", {})).toEqual(["myapp has no config vars."]);
    });
    test("--shell output round-trips through sh", () => {
        const tricky = { Q: "it's \"quoted\" $HOME `x`", N: "a\nb" };
        const lines = formatShell(tricky);
        const out = execFileSync("sh", ["-c", `${lines.join("\n")}\nprintf '%s|%s' "$Q" "$N"`]).toString();
        expect(out).toBe("it's \"quoted\" $HOME `x`|a\nb");
    });
    test("--json", () => {
        expect(JSON.parse(formatJson(vars).join("\n"))).toEqual(vars);
    });
});
