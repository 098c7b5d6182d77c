import { labStackDown } from "../support/lab_stack";

// Destroy must leave nothing behind; cleanup.sh then removes anything anyway (failed runs).
export default async function globalTeardown(): Promise<void> {
    const left = await labStackDown();
    if (left.length > 0) {
        throw new Error(`pulumi destroy left lab resources behind: ${left.join("; ")}`);
    }
}
