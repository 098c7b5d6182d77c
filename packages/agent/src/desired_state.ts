// The desired state of one app on this host (its wire shape and parser are the contract's), checked
// against this agent's dyno sizes, and what a size means here.
import { parseDesiredState as parseWireState, parseOneOffRequest, type DesiredState, type OneOffRequest, type ParseOptions } from "@dynoform/contract";
import { DEFAULT_SIZES, type AgentConfig } from "./config";
import type { SizeLimits } from "./supervisor";

/** The contract's checks, with the dyno sizes this agent knows. */
const withSizes = (config: AgentConfig): ParseOptions => ({ knownSizes: Object.keys(config.sizes) });

export function parseDesiredState(body: unknown, config: AgentConfig): DesiredState {
  return parseWireState(body, withSizes(config));
}

export function parseOneOff(body: unknown, config: AgentConfig): OneOffRequest {
  return parseOneOffRequest(body, withSizes(config));
}

export function sizeFor(d: DesiredState, type: string, config: AgentConfig): { size: string; memoryMb: number } {
  const size = typeof d.size === "string" ? d.size : d.size?.[type] ?? config.defaultSize;
  return { size, memoryMb: d.memoryMb ?? config.sizes[size]?.memoryMb ?? 512 };
}

/**
 * A size's task and CPU limits. A field the configured size leaves out comes from Heroku's size of
 * that name, else from standard-1x (an operator who only changes a size's memory keeps its limits).
 * A memoryMb override in the desired state changes only the memory quota.
 */
export function limitsFor(size: string, config: AgentConfig): SizeLimits {
  const own = config.sizes[size] ?? {};
  const heroku = DEFAULT_SIZES[size] ?? {};
  const base = DEFAULT_SIZES["standard-1x"];
  return {
    tasksMax: own.tasksMax ?? heroku.tasksMax ?? base.tasksMax!,
    cpuWeight: own.cpuWeight ?? heroku.cpuWeight ?? base.cpuWeight!,
    cpuQuotaPercent: own.cpuQuotaPercent ?? heroku.cpuQuotaPercent ?? base.cpuQuotaPercent!,
  };
}
