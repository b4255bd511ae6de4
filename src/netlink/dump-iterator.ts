/**
 * The async iterator behind RtnlSession.dump, with a queue between the socket and the
 * consumer. Breaking out of the loop abandons the request, and the session drains the rest.
 */
import { NLM_F_DUMP } from './constants.js';
import { TransportError } from './errors.js';
import type { Message } from './message.js';
import type { Description, Pending, RtnlSession } from './session.js';

export class DumpIterator implements AsyncIterableIterator<Message> {
  // A queue read from `head`: Array.shift() copies the rest of a large array on every call, and
  // a fast dump can queue thousands of messages before the consumer runs.
  private queue: Message[] = [];
  private head = 0;
  private waiting: { resolve: (result: IteratorResult<Message>) => void; reject: (error: Error) => void } | null = null;
  private ended = false;
  private endError: Error | null = null;
  private pending: Pending | null = null;
  private requested = false;
  private withdraw: () => void = () => undefined;

  constructor(
    private readonly session: RtnlSession,
    private readonly type: number,
    private readonly body: Buffer,
    private readonly description: Description,
  ) {}

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<Message>> {
    if (!this.requested && !this.ended) {
      this.requested = true;
      this.withdraw = this.session.whenDumpSlotFree(() => this.begin());
    }

    const queued = this.queue[this.head];
    if (queued) {
      this.head++;
      if (this.head === this.queue.length) {
        this.queue = [];
        this.head = 0;
      }
      return Promise.resolve({ value: queued, done: false });
    }
    if (this.ended) return this.endError ? Promise.reject(this.takeError()) : Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
    });
  }

  /** Called when the consumer breaks out: the rest of the dump is drained and dropped. */
  return(): Promise<IteratorResult<Message>> {
    this.queue = [];
    this.head = 0;
    this.withdraw();
    if (this.pending && !this.ended) this.session.abandon(this.pending);
    this.ended = true;
    this.endError = null;
    // A next() still waiting (possible with manual iteration) ends too.
    if (this.waiting) {
      const waiting = this.waiting;
      this.waiting = null;
      waiting.resolve({ value: undefined, done: true });
    }
    return Promise.resolve({ value: undefined, done: true });
  }

  private begin(): void {
    try {
      this.pending = this.session.start(
        this.type,
        NLM_F_DUMP,
        this.body,
        this.description,
        true,
        (message) => this.push(message),
        (error) => this.end(error),
      );
    } catch (error) {
      this.end(error as Error);
    }
  }

  private push(message: Message): void {
    if (this.waiting) {
      const waiting = this.waiting;
      this.waiting = null;
      waiting.resolve({ value: message, done: false });
    } else {
      this.queue.push(message);
    }
  }

  private end(error: Error | null): void {
    if (this.ended) return;
    this.ended = true;
    this.endError = error;
    if (this.waiting) {
      const waiting = this.waiting;
      this.waiting = null;
      if (error) waiting.reject(this.takeError());
      else waiting.resolve({ value: undefined, done: true });
    }
  }

  private takeError(): Error {
    const error = this.endError ?? new TransportError('dump ended');
    this.endError = null;
    return error;
  }
}
