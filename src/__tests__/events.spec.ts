import {
  CookbookAPIError,
  ICookbookEvent,
  IEventsPage,
  isTerminalStatus
} from '../api';
import {
  backoffDelay,
  EventStream,
  freshEvents,
  GenerationStreams,
  IEventStreamOptions,
  replayCells
} from '../events';

function ev(seq: number, type = 'status', data: any = {}): ICookbookEvent {
  return { seq, type, data, ts: 1000 + seq };
}

type Step = IEventsPage | Error | ((after: number) => IEventsPage | Error);

/** A scripted server: each call takes the next step; records the `after` values asked for. */
function scripted(steps: Step[]) {
  const afters: number[] = [];
  const fetchPage: IEventStreamOptions['fetchPage'] = async (
    after,
    _timeout,
    signal
  ) => {
    afters.push(after);
    const step = steps.shift();
    if (step === undefined) {
      // Nothing scripted: behave like a long poll that never answers until aborted.
      return new Promise<IEventsPage>((_, reject) => {
        signal.addEventListener('abort', () => {
          const error = new Error('aborted');
          error.name = 'AbortError';
          reject(error);
        });
      });
    }
    const value = typeof step === 'function' ? step(after) : step;
    if (value instanceof Error) {
      throw value;
    }
    return value;
  };
  return { fetchPage, afters };
}

const noSleep = jest.fn(async () => undefined);

describe('freshEvents', () => {
  it('drops events already seen and sorts by sequence', () => {
    const events = [ev(5), ev(3), ev(4), ev(4), ev(2)];
    expect(freshEvents(events, 3).map(e => e.seq)).toEqual([4, 5]);
  });
});

describe('backoffDelay', () => {
  it('grows geometrically up to the maximum', () => {
    const b = { initial: 100, max: 1000, factor: 2 };
    expect([0, 1, 2, 3, 4, 5].map(i => backoffDelay(i, b))).toEqual([
      100, 200, 400, 800, 1000, 1000
    ]);
  });
});

describe('EventStream', () => {
  beforeEach(() => noSleep.mockClear());

  it('delivers events in order and stops on a terminal event', async () => {
    const received: number[] = [];
    const { fetchPage, afters } = scripted([
      { events: [ev(1, 'started'), ev(2)], done: false },
      { events: [ev(3, 'cell_validated'), ev(4, 'finished')], done: true }
    ]);
    const stream = new EventStream({
      fetchPage,
      onEvents: events => {
        received.push(...events.map(e => e.seq));
      },
      sleep: noSleep
    });
    const result = await stream.start();
    expect(received).toEqual([1, 2, 3, 4]);
    expect(afters).toEqual([0, 2]);
    expect(result.reason).toBe('terminal');
    expect(result.terminal?.type).toBe('finished');
    expect(result.lastSeq).toBe(4);
  });

  it('resumes from the last sequence seen after a network error', async () => {
    const received: number[] = [];
    const { fetchPage, afters } = scripted([
      { events: [ev(1), ev(2)], done: false },
      new CookbookAPIError(0, 'network_error', 'Failed to fetch'),
      new CookbookAPIError(503, 'unavailable', 'restarting'),
      { events: [ev(3), ev(4, 'cancelled')], done: true }
    ]);
    const states: string[] = [];
    const stream = new EventStream({
      fetchPage,
      onEvents: events => {
        received.push(...events.map(e => e.seq));
      },
      onStateChanged: s => states.push(s),
      sleep: noSleep
    });
    const result = await stream.start();
    expect(afters).toEqual([0, 2, 2, 2]);
    expect(received).toEqual([1, 2, 3, 4]);
    expect(result.reason).toBe('terminal');
    expect(states).toContain('reconnecting');
    expect(noSleep).toHaveBeenCalledTimes(2);
  });

  it('backs off longer after each consecutive failure and resets after a success', async () => {
    const delays: number[] = [];
    const failure = () => new CookbookAPIError(0, 'network_error', 'down');
    const { fetchPage } = scripted([
      failure(),
      failure(),
      failure(),
      { events: [ev(1)], done: false },
      failure(),
      { events: [ev(2, 'finished')], done: true }
    ]);
    const stream = new EventStream({
      fetchPage,
      onEvents: () => undefined,
      backoff: { initial: 100, max: 10_000, factor: 2 },
      sleep: async ms => {
        delays.push(ms);
      }
    });
    await stream.start();
    expect(delays).toEqual([100, 200, 400, 100]);
  });

  it('never hands the same event twice when a retried page repeats it', async () => {
    const received: number[] = [];
    const { fetchPage } = scripted([
      { events: [ev(1), ev(2)], done: false },
      // A proxy replayed an older answer: 1 and 2 again, plus 3.
      { events: [ev(1), ev(2), ev(3)], done: false },
      { events: [ev(3), ev(4, 'finished')], done: true }
    ]);
    const stream = new EventStream({
      fetchPage,
      onEvents: events => {
        received.push(...events.map(e => e.seq));
      },
      sleep: noSleep
    });
    await stream.start();
    expect(received).toEqual([1, 2, 3, 4]);
  });

  it('keeps long-polling through empty pages', async () => {
    const { fetchPage, afters } = scripted([
      { events: [], done: false },
      { events: [], done: false },
      { events: [ev(1, 'failed', { code: 'x', message: 'boom' })], done: true }
    ]);
    const stream = new EventStream({
      fetchPage,
      onEvents: () => undefined,
      sleep: noSleep
    });
    const result = await stream.start();
    expect(afters).toEqual([0, 0, 0]);
    expect(result.terminal?.data.message).toBe('boom');
  });

  it('ends when the server says the stream is done without a terminal event', async () => {
    const { fetchPage } = scripted([{ events: [ev(1), ev(2)], done: true }]);
    const stream = new EventStream({
      fetchPage,
      onEvents: () => undefined,
      sleep: noSleep
    });
    const result = await stream.start();
    expect(result.reason).toBe('done');
    expect(result.lastSeq).toBe(2);
  });

  it('does not hand events after the terminal one', async () => {
    const received: string[] = [];
    const { fetchPage } = scripted([
      { events: [ev(1, 'cancelled'), ev(2, 'status')], done: true }
    ]);
    const stream = new EventStream({
      fetchPage,
      onEvents: events => {
        received.push(...events.map(e => e.type));
      },
      sleep: noSleep
    });
    await stream.start();
    expect(received).toEqual(['cancelled']);
  });

  it('gives up on errors that retrying cannot fix', async () => {
    const { fetchPage, afters } = scripted([
      new CookbookAPIError(404, 'not_found', 'No such generation')
    ]);
    const stream = new EventStream({
      fetchPage,
      onEvents: () => undefined,
      sleep: noSleep
    });
    const result = await stream.start();
    expect(result.reason).toBe('error');
    expect((result.error as Error).message).toBe('No such generation');
    expect(afters).toEqual([0]);
  });

  it('starts after the sequence number it is given', async () => {
    const { fetchPage, afters } = scripted([
      { events: [ev(8, 'finished')], done: true }
    ]);
    const stream = new EventStream({
      fetchPage,
      after: 7,
      onEvents: () => undefined,
      sleep: noSleep
    });
    await stream.start();
    expect(afters).toEqual([7]);
  });

  it('stops at once when asked, aborting the long poll', async () => {
    const { fetchPage } = scripted([{ events: [ev(1)], done: false }]);
    const stream = new EventStream({
      fetchPage,
      onEvents: () => undefined,
      sleep: noSleep
    });
    const running = stream.start();
    await new Promise(r => setTimeout(r, 10));
    expect(stream.running).toBe(true);
    stream.stop();
    const result = await running;
    expect(result.reason).toBe('stopped');
    expect(result.lastSeq).toBe(1);
    expect(stream.running).toBe(false);
  });

  it('does not advance past events whose handler failed', async () => {
    const { fetchPage } = scripted([{ events: [ev(1), ev(2)], done: false }]);
    const stream = new EventStream({
      fetchPage,
      onEvents: () => {
        throw new Error('handler bug');
      },
      sleep: noSleep
    });
    const result = await stream.start();
    expect(result.reason).toBe('error');
    expect(result.lastSeq).toBe(0);
  });
});

describe('terminal statuses', () => {
  it("are the server's four: finished, failed, cancelled, interrupted", () => {
    for (const status of ['finished', 'failed', 'cancelled', 'interrupted']) {
      expect(isTerminalStatus(status)).toBe(true);
    }
    for (const status of ['pending', 'queued', 'running', 'cancelling']) {
      expect(isTerminalStatus(status)).toBe(false);
    }
  });

  it('end a stream at an interrupted event too', async () => {
    const received: string[] = [];
    const { fetchPage } = scripted([
      { events: [ev(1, 'interrupted'), ev(2, 'status')], done: false }
    ]);
    const stream = new EventStream({
      fetchPage,
      onEvents: events => {
        received.push(...events.map(e => e.type));
      },
      sleep: noSleep
    });
    const result = await stream.start();
    expect(result.reason).toBe('terminal');
    expect(received).toEqual(['interrupted']);
  });
});

/** A long poll per generation id that answers only when `release` is called. */
function heldServer() {
  const calls: Array<{ id: string; after: number }> = [];
  const waiting = new Map<string, (page: IEventsPage) => void>();
  const fetchPage = (
    id: string,
    after: number,
    _timeout: number,
    signal?: AbortSignal
  ) => {
    calls.push({ id, after });
    return new Promise<IEventsPage>((resolve, reject) => {
      waiting.set(id, resolve);
      signal?.addEventListener('abort', () => {
        const error = new Error('aborted');
        error.name = 'AbortError';
        reject(error);
      });
    });
  };
  const release = (id: string, page: IEventsPage) => {
    waiting.get(id)?.(page);
    waiting.delete(id);
  };
  return { fetchPage, calls, release };
}

describe('GenerationStreams', () => {
  const flush = () => new Promise(r => setTimeout(r, 0));

  it('follows a generation once, however often asked', async () => {
    const server = heldServer();
    const streams = new GenerationStreams({ fetchPage: server.fetchPage });
    const first = streams.follow('g1', { onEvents: () => undefined });
    expect(first).not.toBeNull();
    expect(streams.follow('g1', { onEvents: () => undefined })).toBeNull();
    await flush();
    expect(server.calls).toEqual([{ id: 'g1', after: 0 }]);
    server.release('g1', { events: [ev(1, 'finished')], done: true });
    expect((await first)!.reason).toBe('terminal');
    expect(streams.running('g1')).toBe(false);
    streams.dispose();
  });

  it('hands each generation its own events', async () => {
    const server = heldServer();
    const streams = new GenerationStreams({ fetchPage: server.fetchPage });
    const got: Record<string, number[]> = { a: [], b: [] };
    const a = streams.follow('a', {
      onEvents: events => void got.a.push(...events.map(e => e.seq))
    });
    const b = streams.follow('b', {
      onEvents: events => void got.b.push(...events.map(e => e.seq))
    });
    await flush();
    server.release('b', { events: [ev(1), ev(2, 'finished')], done: true });
    server.release('a', { events: [ev(1, 'finished')], done: true });
    await Promise.all([a, b]);
    expect(got).toEqual({ a: [1], b: [1, 2] });
    streams.dispose();
  });

  it('retries at once, without waiting out the backoff, when the browser is back online', async () => {
    let calls = 0;
    const streams = new GenerationStreams({
      fetchPage: async () => {
        calls++;
        if (calls === 1) {
          throw new CookbookAPIError(0, 'network_error', 'offline');
        }
        return { events: [ev(1, 'finished')], done: true };
      },
      // Far longer than the test: only waking it can finish in time.
      backoff: { initial: 60_000, max: 60_000, factor: 1 }
    });
    const states: string[] = [];
    const ended = streams.follow('g', {
      onEvents: () => undefined,
      onStateChanged: state => states.push(state)
    });
    await flush();
    expect(states).toEqual(['reconnecting']);
    window.dispatchEvent(new Event('online'));
    expect((await ended)!.reason).toBe('terminal');
    expect(calls).toBe(2);
    streams.dispose();
  });

  it('stops a stream when asked, and every stream when disposed', async () => {
    const server = heldServer();
    const streams = new GenerationStreams({ fetchPage: server.fetchPage });
    const a = streams.follow('a', { onEvents: () => undefined });
    const b = streams.follow('b', { onEvents: () => undefined });
    await flush();
    streams.stop('a');
    expect((await a)!.reason).toBe('stopped');
    expect(streams.running('b')).toBe(true);
    streams.dispose();
    expect((await b)!.reason).toBe('stopped');
    expect(streams.follow('c', { onEvents: () => undefined })).toBeNull();
  });
});

describe('replayCells', () => {
  const cell = (id: string) => ({
    cell_type: 'code',
    source: id,
    metadata: {}
  });

  it('reads the whole log, page by page, into the cells in notebook order', async () => {
    const pages: IEventsPage[] = [
      {
        events: [
          ev(1, 'cell_validated', { cell_id: 'c1', index: 0, cell: cell('a') }),
          ev(2, 'cell_validated', { cell_id: 'c2', index: 0, cell: cell('b') })
        ],
        done: false
      },
      {
        events: [
          ev(3, 'cell_invalidated', { cell_id: 'c1' }),
          ev(4, 'cell_validated', { cell_id: 'c3', index: 1, cell: cell('c') }),
          ev(5, 'finished')
        ],
        done: true
      }
    ];
    const afters: number[] = [];
    const api = {
      events: async (_id: string, after: number, timeout?: number) => {
        expect(timeout).toBe(0);
        afters.push(after);
        return pages.shift()!;
      }
    };
    const cells = await replayCells(api, 'g');
    expect(afters).toEqual([0, 2]);
    expect(cells.order).toEqual(['c2', 'c3']);
    expect(cells.get('c3')?.source).toBe('c');
  });
});
