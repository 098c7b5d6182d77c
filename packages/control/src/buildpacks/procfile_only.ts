// An app that is only a Procfile (plus whatever its commands need from the host): nothing to build.
import * as fs from "node:fs";
import * as path from "node:path";
import { Buildpack } from "./buildpack";

export const procfileBuildpack: Buildpack = {
    name: "Procfile",
    id: "heroku/procfile",
    async detect({ dir }) {
        return fs.existsSync(path.join(dir, "Procfile"));
    },
    async compile(ctx) {
        ctx.log.info("No build step: the Procfile's commands run as pushed");
        return { defaultProcessTypes: {} };
    },
};
