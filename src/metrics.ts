/**
 * How long streamed cells take to reach the notebook: the server's event
 * time, when the browser received it, when the cell was in the notebook's
 * model. Read by the insertion-latency benchmark.
 */
import type { IInsertionMetric } from './tokens';

/** The most timings kept; older ones are dropped. */
export const MAX_METRICS = 500;

export class InsertionMetrics {
  constructor(private readonly _limit = MAX_METRICS) {}

  get entries(): ReadonlyArray<IInsertionMetric> {
    return this._entries;
  }

  /**
   * Cells `cellIds` of a generation went into the notebook at `insertedAt`
   * (epoch ms), from events received at `receivedAt`; `validatedAt` holds
   * each cell's event time (epoch seconds). A cell without one (inserted
   * for another reason) is not a streamed cell and is not timed.
   */
  record(
    generationId: string,
    cellIds: Iterable<string>,
    validatedAt: ReadonlyMap<string, number>,
    receivedAt: number,
    insertedAt: number
  ): void {
    for (const cellId of cellIds) {
      const ts = validatedAt.get(cellId);
      if (ts !== undefined) {
        this._entries.push({
          generationId,
          cellId,
          ts,
          receivedAt,
          insertedAt
        });
      }
    }
    if (this._entries.length > this._limit) {
      this._entries.splice(0, this._entries.length - this._limit);
    }
  }

  private _entries: IInsertionMetric[] = [];
}
