// ESLint (flat config): JavaScript's and typescript-eslint's recommended rules over our own code.
import js from "@eslint/js";
import tseslint from "typescript-eslint";
import globals from "globals";

export default tseslint.config(
    { ignores: ["**/node_modules/**", "**/dist/**", ".tools/**", ".lab/**", ".pulumi-state/**", "examples/**/node_modules/**", "coverage/**"] },
    js.configs.recommended,
    ...tseslint.configs.recommended,
    {
        languageOptions: { globals: { ...globals.node, ...globals.jest } },
        rules: {
            "@typescript-eslint/no-require-imports": "off", // lazy requires: host sources, dynamic-provider code
            "@typescript-eslint/no-explicit-any": "off",
            "no-control-regex": "off", // HTTP and log escaping match control bytes on purpose
            "no-empty": ["error", { allowEmptyCatch: true }],
            "no-regex-spaces": "off", // tests match Heroku's column-aligned output
            "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" }],
        },
    },
);
