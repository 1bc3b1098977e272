import { InsertionMetrics } from '../metrics';

describe('InsertionMetrics', () => {
  it('times each streamed cell from its event to the notebook', () => {
    const metrics = new InsertionMetrics();
    metrics.record(
      'g',
      ['a', 'b'],
      new Map([
        ['a', 10],
        ['b', 11]
      ]),
      11_500,
      11_520
    );
    expect(metrics.entries).toEqual([
      {
        generationId: 'g',
        cellId: 'a',
        ts: 10,
        receivedAt: 11_500,
        insertedAt: 11_520
      },
      {
        generationId: 'g',
        cellId: 'b',
        ts: 11,
        receivedAt: 11_500,
        insertedAt: 11_520
      }
    ]);
  });

  it('does not time a cell its events did not validate (put back after a reload)', () => {
    const metrics = new InsertionMetrics();
    metrics.record('g', ['a'], new Map(), 1, 2);
    expect(metrics.entries).toEqual([]);
  });

  it('keeps only the most recent timings', () => {
    const metrics = new InsertionMetrics(3);
    for (let i = 0; i < 5; i++) {
      metrics.record('g', [`c${i}`], new Map([[`c${i}`, i]]), i, i);
    }
    expect(metrics.entries.map(m => m.cellId)).toEqual(['c2', 'c3', 'c4']);
  });
});
