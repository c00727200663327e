/** The server's own state that requests read: refused or told to reconnect while draining. */
export interface Lifecycle {
  /** Set once shutdown begins: new streams and polls are refused, responses close their connection. */
  draining: boolean;
  startedAt: Date;
  version: string;
}
