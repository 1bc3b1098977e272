/**
 * A small badge on each Cookbook cell of every open notebook ("Cookbook ·
 * run 13:46 · from README.md § Usage"): where its code came from on hover,
 * and a click opens its generation in the panel.
 */
import type { Cell } from '@jupyterlab/cells';
import type { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import type { TranslationBundle } from '@jupyterlab/translation';
import type { PanelLayout } from '@lumino/widgets';
import { Widget } from '@lumino/widgets';

import { cellBadge, IBadge } from './badge';

/** The class of a cell that carries a Cookbook badge. */
export const COOKBOOK_CELL_CLASS = 'jp-Cookbook-cell';

class CellBadge extends Widget {
  constructor(private readonly _open: (generationId: string) => void) {
    super({ node: document.createElement('div') });
    this.addClass('jp-Cookbook-cellBadgeRow');
    this._button = document.createElement('button');
    this._button.type = 'button';
    this._button.className = 'jp-Cookbook-cellBadge';
    this._button.addEventListener('click', this._onClick);
    // The cell must not take the click as "select me and enter edit mode".
    this._button.addEventListener('mousedown', event =>
      event.stopPropagation()
    );
    this.node.appendChild(this._button);
  }

  setBadge(badge: IBadge): void {
    this._badge = badge;
    this._button.textContent = badge.text;
    this._button.title = badge.tooltip;
    this._button.setAttribute(
      'aria-label',
      badge.tooltip.split('\n').join(' ')
    );
    this.node.dataset.generationId = badge.generationId;
    this.node.dataset.cellId = badge.cellId;
    this.node.dataset.origin = badge.origin;
  }

  dispose(): void {
    this._button.removeEventListener('click', this._onClick);
    super.dispose();
  }

  private _onClick = (event: MouseEvent): void => {
    event.stopPropagation();
    if (this._badge) {
      this._open(this._badge.generationId);
    }
  };

  private _button: HTMLButtonElement;
  private _badge: IBadge | null = null;
}

export interface ICellBadgesOptions {
  tracker: INotebookTracker;
  trans: TranslationBundle;
  /** Open a generation in the Cookbook panel. */
  open: (generationId: string) => void;
}

/** Keeps a badge on every Cookbook cell of the tracked notebooks. */
export class CellBadges {
  constructor(private readonly _options: ICellBadgesOptions) {
    _options.tracker.forEach(panel => this._watch(panel));
    _options.tracker.widgetAdded.connect((_, panel) => this._watch(panel));
  }

  private _watch(panel: NotebookPanel): void {
    let frame: number | null = null;
    const schedule = () => {
      if (frame === null && !panel.isDisposed) {
        frame = requestAnimationFrame(() => {
          frame = null;
          this._sync(panel);
        });
      }
    };
    const connect = () => {
      const model = panel.content.model;
      model?.cells.changed.connect(schedule);
      model?.contentChanged.connect(schedule);
      schedule();
    };
    panel.content.modelChanged.connect(connect);
    void panel.context.ready.then(connect);
    connect();
  }

  private _sync(panel: NotebookPanel): void {
    for (const cell of panel.content.widgets) {
      this._syncCell(cell);
    }
  }

  private _syncCell(cell: Cell): void {
    if (cell.isDisposed) {
      return;
    }
    let metadata: Record<string, any> | null = null;
    try {
      metadata = { cookbook: cell.model.getMetadata('cookbook') };
    } catch {
      metadata = null;
    }
    const badge = cellBadge(this._options.trans, metadata);
    let widget = this._badges.get(cell);
    if (!badge) {
      if (widget) {
        widget.dispose();
        this._badges.delete(cell);
        cell.removeClass(COOKBOOK_CELL_CLASS);
      }
      return;
    }
    if (!widget || widget.isDisposed) {
      // eslint-disable-next-line jupyter/require-disposable-ownership -- the cell's layout owns it, and disposes of it with the cell
      widget = new CellBadge(this._options.open);
      (cell.layout as PanelLayout).insertWidget(0, widget);
      this._badges.set(cell, widget);
      cell.addClass(COOKBOOK_CELL_CLASS);
    }
    widget.setBadge(badge);
  }

  private _badges = new WeakMap<Cell, CellBadge>();
}
