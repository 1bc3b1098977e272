/**
 * Notices when the user deletes a generated cell from a notebook, so it is
 * never put back (and when they bring it back, with undo or paste). A revert
 * or a reload from disk is not the user deleting cells.
 */
import { Signal } from '@lumino/signaling';

import { IInsertionState, presentCells, trackDismissals } from './notebook';
import type { INotebookHandle, INotebookHost } from './notebookHost';

/** The part of a generation the tracker reads and updates. */
export interface IDismissible {
  readonly id: string;
  readonly record: { readonly insertion: IInsertionState };
  /** Cell ids of the generation present in its notebook at the last look. */
  present: Set<string>;
}

export interface IDismissalTrackerOptions<T extends IDismissible> {
  notebooks: INotebookHost;
  /** The generations whose cells go into the notebook at `path`. */
  generationsIn: (path: string) => Iterable<T>;
  /** The user removed (or brought back) cells of these generations. */
  onDismissed: (changed: T[]) => void;
}

export class DismissalTracker<T extends IDismissible> {
  constructor(options: IDismissalTrackerOptions<T>) {
    this._options = options;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  /** Follow a notebook's cells (once per notebook, however often asked). */
  watch(handle: INotebookHandle): void {
    if (this._disposed || this._cellObjects.has(handle)) {
      return;
    }
    this._cellObjects.set(handle, new Set(handle.shared.cells));
    let scheduled = false;
    handle.cellsChanged.connect(() => {
      if (scheduled) {
        return;
      }
      scheduled = true;
      // After the change settles: a move is a delete then an insert.
      setTimeout(() => {
        scheduled = false;
        if (!this._disposed) {
          this._check(handle);
        }
      }, 0);
    }, this);
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    Signal.clearData(this);
  }

  private _check(handle: INotebookHandle): void {
    if (this._options.notebooks.find(handle.path) !== handle) {
      return;
    }
    // A revert or a reload from disk replaces every cell object at once; a
    // user's deletion leaves the other cells in place. Only the latter
    // dismisses cells.
    const before = this._cellObjects.get(handle);
    const cells = handle.shared.cells;
    this._cellObjects.set(handle, new Set(cells));
    const reloaded =
      before !== undefined &&
      before.size > 0 &&
      cells.length > 0 &&
      cells.every(cell => !before.has(cell));
    const changed: T[] = [];
    for (const gen of this._options.generationsIn(handle.path)) {
      const now = new Set(presentCells(handle.shared, gen.id).keys());
      if (
        !reloaded &&
        trackDismissals(gen.record.insertion, gen.present, now)
      ) {
        changed.push(gen);
      }
      gen.present = now;
    }
    if (changed.length > 0) {
      this._options.onDismissed(changed);
    }
  }

  private _options: IDismissalTrackerOptions<T>;
  private _cellObjects = new WeakMap<INotebookHandle, Set<object>>();
  private _disposed = false;
}
