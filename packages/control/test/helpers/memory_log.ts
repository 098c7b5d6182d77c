import { BuildLog } from "../../src/build_log";

/** A build log that keeps its lines. */
export function memoryLog(): { log: BuildLog; lines: string[] } {
    const lines: string[] = [];
    return { log: new BuildLog((l) => lines.push(l)), lines };
}
