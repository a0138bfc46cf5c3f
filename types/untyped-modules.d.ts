// Packages that ship no types.

// oidc-provider: used by the tests through tests/helpers/oidc.ts only.
declare module "oidc-provider";

// autocannon: the part scripts/bench/load.mjs uses.
declare module "autocannon" {
  export interface Options {
    url: string;
    method?: string;
    headers?: Record<string, string>;
    connections?: number;
    /** Seconds. */
    duration?: number;
    pipelining?: number;
    /** Called with each connection's client, e.g. to give it headers of its own. */
    setupClient?: (client: { setHeaders(headers: Record<string, string>): void }) => void;
  }
  export interface Stats {
    average: number;
    total: number;
    p50: number;
    p99: number;
  }
  export interface Result {
    requests: Stats;
    /** Milliseconds. */
    latency: Stats;
    non2xx: number;
    errors: number;
    timeouts: number;
    "2xx": number;
    "4xx": number;
    "5xx": number;
  }
  /** Without a callback, a promise of the run's result. */
  export default function autocannon(options: Options): Promise<Result>;
}
