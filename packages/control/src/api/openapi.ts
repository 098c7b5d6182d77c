// The OpenAPI 3 document of the API, made from the route table itself: an endpoint cannot be added,
// removed or changed without its description following.
import { ERROR_STATUS } from "./api_error";
import type { Route, Schema } from "./route";
import { SCHEMAS } from "./shapes";

const ERROR_RESPONSE = { description: "An error: its id says which (bad_request, unauthorized, forbidden, not_found, invalid_params, rate_limit, ...).", content: { "application/json": { schema: { $ref: "#/components/schemas/error" } } } };

function parameters(route: Route): Schema[] {
    const names = [...route.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
    const params: Schema[] = names.map((name) => ({ name, in: "path", required: true, schema: { type: "string" } }));
    if (route.response.rangeFields) {
        params.push({ name: "Range", in: "header", required: false, description: `A page: "${route.response.rangeFields[0]} ..; max=N" (fields: ${route.response.rangeFields.join(", ")}); "]" before a start skips it; "order=desc" reverses. A partial page is 206 with Next-Range.`, schema: { type: "string" } });
    }
    return params;
}

function security(route: Route): Schema[] | undefined {
    if (route.access === "public") return [];
    if (route.access === "signed-url") return [];
    return undefined; // the document's default: bearer
}

function operation(route: Route): Schema {
    const okContent = route.response.schema ? { content: { [route.response.contentType ?? "application/json"]: { schema: route.response.schema } } } : route.response.contentType ? { content: { [route.response.contentType]: { schema: { type: "string" } } } } : {};
    const responses: Record<string, Schema> = { [String(route.response.status)]: { description: "Success.", ...okContent } };
    if (route.response.rangeFields) responses["206"] = { description: "A partial page: Next-Range names the next.", ...okContent };
    if (route.access !== "public") {
        const codes = route.access === "signed-url" ? ["403", "404"] : ["401", "403", "404", "422", "429"];
        for (const c of codes) responses[c] = ERROR_RESPONSE;
    }
    const sec = security(route);
    return {
        summary: route.summary,
        operationId: `${route.method.toLowerCase()}${route.path.replace(/\{(\w+)\}/g, "By_$1").replace(/[^A-Za-z0-9_]+(.)?/g, (_, c: string | undefined) => (c ? c.toUpperCase() : ""))}`,
        "x-permission": route.access,
        ...(parameters(route).length ? { parameters: parameters(route) } : {}),
        ...(route.body ? { requestBody: { required: true, content: { "application/json": { schema: route.body } } } } : {}),
        responses,
        ...(sec ? { security: sec } : {}),
    };
}

export function openApiDocument(routes: Route[], version: string): Schema {
    const paths: Record<string, Record<string, Schema>> = {};
    for (const r of routes) (paths[r.path] ??= {})[r.method.toLowerCase()] = operation(r);
    return {
        openapi: "3.0.3",
        info: {
            title: "dynoform Platform API",
            version,
            description: `Heroku Platform API shapes where they fit. Send Authorization: Bearer <token> and Accept: application/vnd.heroku+json; version=3 (or application/json). Errors are {"id", "message"}: ${Object.entries(ERROR_STATUS).map(([id, s]) => `${id} ${s}`).join(", ")}. Each token has 4500 requests an hour (RateLimit-Remaining).`,
        },
        components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } }, schemas: SCHEMAS },
        security: [{ bearer: [] }],
        paths,
    };
}
