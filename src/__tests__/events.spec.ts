import { CookbookAPIError, ICookbookEvent, IEventsPage } from '../api';
import {
  backoffDelay,
  EventStream,
  freshEvents,
  IEventStreamOptions
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
