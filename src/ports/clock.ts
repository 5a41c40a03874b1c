/** Time, injected so the app and its tests control it. */
export interface Clock {
  /** The current time as an ISO-8601 UTC string with milliseconds. */
  now(): string;
}
