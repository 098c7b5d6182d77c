import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";

/** Folder of the real config files (nginx.conf, default.vcl, ...). */
export const templatesDir = path.resolve(__dirname, "..", "..", "templates");

export type TemplateVars = Record<string, string | number>;

/**
 * Renders templates/<name>, replacing every `{{key}}`. A placeholder without a value
 * is an error, so a typo never ships a config with `{{...}}` left in it.
 */
export function render(name: string, vars: TemplateVars): string {
    const text = fs.readFileSync(path.join(templatesDir, name), "utf8");
    return text.replace(/\{\{(\w+)\}\}/g, (_match, key: string) => {
        if (!(key in vars)) {
            throw new Error(`template ${name}: no value for {{${key}}}`);
        }
        return String(vars[key]);
    });
}

/** `render` over Pulumi inputs. */
export function renderOutput(name: string, vars: Record<string, pulumi.Input<string | number>>): pulumi.Output<string> {
    return pulumi.all(vars).apply((resolved) => render(name, resolved as TemplateVars));
}
