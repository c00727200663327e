import { SMTPServer } from 'smtp-server';
import { simpleParser, type ParsedMail } from 'mailparser';
import type { AddressInfo } from 'node:net';

/**
 * A real SMTP server in-process (smtp-server) that keeps every message it accepts, parsed with
 * mailparser. `refuseNext` answers the next messages with an SMTP error code (4xx deferred, 5xx
 * refused), as a mail server would.
 */
export class SmtpSink {
  readonly messages: ParsedMail[] = [];
  private readonly refusals: number[] = [];
  private readonly listeners: Array<(mail: ParsedMail) => void> = [];
  private readonly server: SMTPServer;

  constructor() {
    this.server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      // Stopping does not wait for clients that keep a connection open.
      closeTimeout: 100,
      onData: (stream, _session, callback) => {
        const refusal = this.refusals.shift();
        simpleParser(stream)
          .then((mail) => {
            if (refusal) {
              const err = Object.assign(new Error(`refused (${refusal})`), { responseCode: refusal });
              return callback(err);
            }
            this.messages.push(mail);
            callback();
            for (const l of this.listeners) l(mail);
          })
          .catch(callback);
      },
    });
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.server.address() as AddressInfo;
    return `smtp://127.0.0.1:${port}`;
  }

  /** Called with each message the sink accepts, parsed. */
  onMail(listener: (mail: ParsedMail) => void): void {
    this.listeners.push(listener);
  }

  refuseNext(...codes: number[]): void {
    this.refusals.push(...codes);
  }

  to(address: string): ParsedMail[] {
    return this.messages.filter((m) => [m.to].flat().some((t) => t?.value.some((v) => v.address === address)));
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
