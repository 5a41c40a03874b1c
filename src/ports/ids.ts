/** Identifier generation, injected so tests are deterministic. */
export interface Ids {
  /** A unique id that sorts by creation time (job ids page by it). */
  jobId(): string;
  /** A W3C trace id: 32 lowercase hex characters, not all zero. */
  traceId(): string;
  /** An API key secret: `wdn_` and 256 random bits, URL-safe. */
  apiKeySecret(): string;
  /** A worker's lease on a job: `lease_` and 128 random bits; unguessable, so it proves the holder. */
  leaseId(): string;
}
