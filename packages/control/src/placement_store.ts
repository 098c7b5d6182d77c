// Where each app's dynos run, kept per app in placement/<app>.json (state_paths.ts) as
// {placement: {dyno: agent URL}}: written once a rollout, scale or the placement loop has put the
// dynos there, read to keep them there (placement.ts is sticky), removed with the app.
import * as fs from "node:fs";
import { appNameProblem } from "./app_store";
import { readJson, writeJsonAtomic } from "./atomic_file";
import { Placement } from "./placement";
import { StatePaths } from "./state_paths";

interface PlacementFile {
    placement: Placement;
}

export class PlacementStore {
    constructor(private readonly paths: StatePaths) {}

    private file(app: string): string {
        if (appNameProblem(app)) throw new Error(`not an app name: ${app}`);
        return this.paths.placement(app);
    }

    async get(app: string): Promise<Placement | undefined> {
        return (await readJson<PlacementFile>(this.file(app)))?.placement;
    }

    async save(app: string, placement: Placement): Promise<void> {
        await fs.promises.mkdir(this.paths.placements, { recursive: true, mode: 0o700 });
        await writeJsonAtomic(this.file(app), { placement } satisfies PlacementFile);
    }

    async remove(app: string): Promise<void> {
        await fs.promises.rm(this.file(app), { force: true });
    }
}
