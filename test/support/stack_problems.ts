import { parseStackConfig, StackConfigError, type RawStackConfig } from "../../components/config/stack_config";

/** What the stack config refuses in `raw`, each problem with its fix ([] when it parses). */
export function problemsOf(raw: RawStackConfig): string[] {
    try {
        parseStackConfig(raw);
    } catch (e) {
        if (e instanceof StackConfigError) return e.problems;
        throw e;
    }
    return [];
}
