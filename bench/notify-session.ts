/** What the steps of the `notify` phase share: its options, database, worker processes and result. */
import crypto from 'node:crypto';
import type { Worker } from './notify-workers';
import type { NotifyOptions, NotifyResult } from './notify';

export interface NotifySession {
  readonly o: NotifyOptions;
  readonly url: string;
  readonly result: NotifyResult;
  readonly say: (msg: string) => void;
  readonly pub: Worker;
  /** The listener processes started so far; a configuration of K uses the first K. */
  readonly listeners: Worker[];
  /** Steps run so far, numbering each step's name. */
  seq: number;
}

/** A name no earlier step carries, so a listener counts only this step's events. */
export function nextStepName(s: NotifySession): string {
  return `s${s.seq++}-${crypto.randomBytes(2).toString('hex')}`;
}
