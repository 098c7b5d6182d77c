export type { Host } from "./host";
export { labHosts, LabHost } from "./lab";
export type { LabHostSpec, LabStackConfig, LabHostArgs, LabNetworkArgs } from "./lab";
export { serverHosts, ServerConfigError } from "./servers";
export type { ServerSpec, ServerHostsArgs } from "./servers";
