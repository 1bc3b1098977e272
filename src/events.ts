/**
 * A generation's event stream: long-polls `events?after=N`, resumes from the
 * last sequence number seen after any network failure, stops on a terminal
 * event. Knows nothing about the panel or notebooks.
 */
import {
  CookbookAPI,
  ICookbookEvent,
  IEventsPage,
  isAbortError,
  isTerminalStatus,
  isTransientError
} from './api';
import { applyCellEvents, ValidatedCells } from './notebook';

export type StreamState =
  'idle' | 'connected' | 'reconnecting' | 'done' | 'stopped' | 'error';

export interface IStreamResult {
  /** Why the stream ended. */
  reason: 'terminal' | 'done' | 'stopped' | 'error';
  /** The last sequence number handled. */
  lastSeq: number;
  /** The terminal event, when there was one. */
  terminal?: ICookbookEvent;
  error?: unknown;
}

export interface IBackoff {
  /** First delay, ms. */
  initial: number;
  /** Largest delay, ms. */
  max: number;
  /** Growth factor between attempts. */
  factor: number;
}

export const DEFAULT_BACKOFF: IBackoff = {
  initial: 500,
  max: 10_000,
  factor: 2
};

/** The delay before retry number `attempt` (0-based), without jitter. */
export function backoffDelay(
  attempt: number,
  backoff: IBackoff = DEFAULT_BACKOFF
): number {
  return Math.min(
    backoff.max,
    backoff.initial * Math.pow(backoff.factor, attempt)
  );
}

/**
 * Keeps only events newer than `after`, in sequence order, without
 * duplicates: a retried request may return what was already handled.
 */
export function freshEvents(
  events: ICookbookEvent[],
  after: number
): ICookbookEvent[] {
  const seen = new Set<number>();
  return events
    .filter(e => {
      if (typeof e.seq !== 'number' || e.seq <= after || seen.has(e.seq)) {
        return false;
      }
      seen.add(e.seq);
      return true;
    })
    .sort((a, b) => a.seq - b.seq);
}

export interface IEventStreamOptions {
  /** Fetch one page of events after `after` (the API client's `events`). */
  fetchPage: (
    after: number,
    timeout: number,
    signal: AbortSignal
  ) => Promise<IEventsPage>;
  /** Handle new events, in order; awaited before the next request. */
  onEvents: (events: ICookbookEvent[]) => void | Promise<void>;
  /** Resume after this sequence number (0: from the beginning). */
  after?: number;
  /** Long-poll timeout in seconds sent to the server. */
  timeout?: number;
  backoff?: IBackoff;
  onStateChanged?: (state: StreamState, error?: unknown) => void;
  /** Injectable for tests. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise(resolve => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done);
  });
}

export class EventStream {
  constructor(options: IEventStreamOptions) {
    this._options = options;
    this._lastSeq = options.after ?? 0;
  }

  get lastSeq(): number {
    return this._lastSeq;
  }

  get state(): StreamState {
    return this._state;
  }

  get running(): boolean {
    return this._running !== null;
  }

  /** Run until a terminal event, `done`, a fatal error or `stop()`. Idempotent while running. */
  start(): Promise<IStreamResult> {
    if (!this._running) {
      this._controller = new AbortController();
      this._running = this._loop(this._controller.signal).finally(() => {
        this._running = null;
      });
    }
    return this._running;
  }

  /** Stop now; an in-flight long poll is aborted. */
  stop(): void {
    this._controller?.abort();
  }

  /**
   * Retry at once when waiting in a backoff (e.g. the browser came back
   * online); no effect otherwise.
   */
  wake(): void {
    this._wake?.abort();
  }

  private async _loop(signal: AbortSignal): Promise<IStreamResult> {
    const { fetchPage, onEvents } = this._options;
    const timeout = this._options.timeout ?? 25;
    const backoff = this._options.backoff ?? DEFAULT_BACKOFF;
    const sleep = this._options.sleep ?? abortableSleep;
    let attempt = 0;
    while (!signal.aborted) {
      let page: IEventsPage;
      try {
        page = await fetchPage(this._lastSeq, timeout, signal);
      } catch (error) {
        if (signal.aborted || isAbortError(error)) {
          break;
        }
        if (!isTransientError(error)) {
          this._setState('error', error);
          return { reason: 'error', lastSeq: this._lastSeq, error };
        }
        this._setState('reconnecting', error);
        const wake = new AbortController();
        this._wake = wake;
        const onAbort = () => wake.abort();
        signal.addEventListener('abort', onAbort);
        await sleep(backoffDelay(attempt, backoff), wake.signal);
        signal.removeEventListener('abort', onAbort);
        this._wake = null;
        attempt++;
        continue;
      }
      attempt = 0;
      this._setState('connected');
      const events = freshEvents(page.events ?? [], this._lastSeq);
      let terminal: ICookbookEvent | undefined;
      if (events.length) {
        const end = events.findIndex(e => isTerminalStatus(e.type));
        const handled = end >= 0 ? events.slice(0, end + 1) : events;
        terminal = end >= 0 ? events[end] : undefined;
        try {
          await onEvents(handled);
        } catch (error) {
          // A handler bug must not spin the loop over the same page forever.
          this._setState('error', error);
          return { reason: 'error', lastSeq: this._lastSeq, error };
        }
        this._lastSeq = handled[handled.length - 1].seq;
      }
      if (terminal) {
        this._setState('done');
        return { reason: 'terminal', lastSeq: this._lastSeq, terminal };
      }
      if (page.done) {
        this._setState('done');
        return { reason: 'done', lastSeq: this._lastSeq };
      }
    }
    this._setState('stopped');
    return { reason: 'stopped', lastSeq: this._lastSeq };
  }

  private _setState(state: StreamState, error?: unknown): void {
    if (state !== this._state || error) {
      this._state = state;
      this._options.onStateChanged?.(state, error);
    }
  }

  private _options: IEventStreamOptions;
  private _lastSeq: number;
  private _state: StreamState = 'idle';
  private _running: Promise<IStreamResult> | null = null;
  private _controller: AbortController | null = null;
  private _wake: AbortController | null = null;
}

/** Fetch one page of a generation's events (the API client's `events`). */
export type FetchEvents = (
  id: string,
  after: number,
  timeout: number,
  signal?: AbortSignal
) => Promise<IEventsPage>;

export interface IGenerationStreamsOptions {
  fetchPage: FetchEvents;
  /** Long-poll timeout, seconds. */
  timeout?: number;
  /** Retry delays after network failures. */
  backoff?: IBackoff;
}

/** What a followed generation's stream reports. */
export interface IStreamHandlers {
  onEvents: (events: ICookbookEvent[]) => void | Promise<void>;
  onStateChanged?: (state: StreamState, error?: unknown) => void;
}

/**
 * One event stream per generation followed: never two for the same one, and
 * every stream waiting in a backoff retries at once when the browser is back
 * online.
 */
export class GenerationStreams {
  constructor(options: IGenerationStreamsOptions) {
    this._options = options;
    if (typeof window !== 'undefined') {
      window.addEventListener('online', this._wakeAll);
    }
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  /** Whether generation `id`'s stream is running. */
  running(id: string): boolean {
    return this._streams.get(id)?.running ?? false;
  }

  /**
   * Follow generation `id` from the beginning; resolves when its stream
   * ends. Null when it is followed already.
   */
  follow(id: string, handlers: IStreamHandlers): Promise<IStreamResult> | null {
    if (this._disposed || this.running(id)) {
      return null;
    }
    const stream = new EventStream({
      after: 0,
      timeout: this._options.timeout ?? 25,
      backoff: this._options.backoff,
      fetchPage: (after, timeout, signal) =>
        this._options.fetchPage(id, after, timeout, signal),
      onEvents: handlers.onEvents,
      onStateChanged: handlers.onStateChanged
    });
    this._streams.set(id, stream);
    return stream.start();
  }

  /** Stop following generation `id`. */
  stop(id: string): void {
    this._streams.get(id)?.stop();
    this._streams.delete(id);
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    if (typeof window !== 'undefined') {
      window.removeEventListener('online', this._wakeAll);
    }
    for (const stream of this._streams.values()) {
      stream.stop();
    }
    this._streams.clear();
  }

  /** Back online: retry the streams waiting in a backoff now. */
  private _wakeAll = (): void => {
    for (const stream of this._streams.values()) {
      stream.wake();
    }
  };

  private _options: IGenerationStreamsOptions;
  private _streams = new Map<string, EventStream>();
  private _disposed = false;
}

/**
 * A generation's validated cells in notebook order, replayed from its whole
 * event log (`index` is authoritative for the order: a heading may be placed
 * before a code cell validated earlier).
 */
export async function replayCells(
  api: Pick<CookbookAPI, 'events'>,
  id: string
): Promise<ValidatedCells> {
  const cells = new ValidatedCells();
  let after = 0;
  for (;;) {
    const page = await api.events(id, after, 0);
    const events = page.events ?? [];
    applyCellEvents(cells, events);
    for (const event of events) {
      after = Math.max(after, event.seq);
    }
    if (page.done || events.length === 0) {
      return cells;
    }
  }
}
