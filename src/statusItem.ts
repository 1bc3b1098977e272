/**
 * The Cookbook item of JupyterLab's status bar: shown while a generation
 * started here runs, it says how far it got and, above all, when a cell is
 * waiting for the user's approval; a click shows it in the panel.
 */
import type { TranslationBundle } from '@jupyterlab/translation';
import { ISignal, Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

import { isTerminalStatus } from './api';
import type { ICookbook, ICookbookSidebar } from './tokens';

/** What the item says now; null when there is nothing to say. */
export function statusText(
  trans: TranslationBundle,
  model: Pick<ICookbook, 'generations' | 'pendingApprovals'>
): { text: string; generationId: string; waiting: boolean } | null {
  const pending = model.pendingApprovals();
  if (pending.length > 0) {
    return {
      text: trans._n(
        'Cookbook: %1 cell waiting for your approval',
        'Cookbook: %1 cells waiting for your approval',
        pending.length
      ),
      generationId: pending[0].generation.id,
      waiting: true
    };
  }
  const running = model.generations.find(
    g => !isTerminalStatus(g.progress.status) && !g.settled
  );
  if (!running) {
    return null;
  }
  return {
    text: trans._n(
      'Cookbook: generating, %1 cell kept',
      'Cookbook: generating, %1 cells kept',
      running.progress.validatedCells.length
    ),
    generationId: running.id,
    waiting: false
  };
}

export class CookbookStatusItem extends Widget {
  constructor(
    private readonly _model: ICookbook,
    private readonly _sidebar: ICookbookSidebar,
    private readonly _trans: TranslationBundle
  ) {
    super({ node: document.createElement('button') });
    this.addClass('jp-Cookbook-statusItem');
    (this.node as HTMLButtonElement).type = 'button';
    this.node.addEventListener('click', this._onClick);
    _model.generationChanged.connect(this._update, this);
    _model.generationStarted.connect(this._update, this);
    _model.generationFinished.connect(this._update, this);
    this._update();
  }

  /** Whether the item has something to say (the status bar hides it otherwise). */
  get active(): boolean {
    return this._state !== null;
  }

  get activeChanged(): ISignal<this, void> {
    return this._activeChanged;
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this.node.removeEventListener('click', this._onClick);
    Signal.disconnectReceiver(this);
    super.dispose();
  }

  private _update(): void {
    const was = this.active;
    this._state = statusText(this._trans, this._model);
    this.node.textContent = this._state?.text ?? '';
    this.node.title = this._state
      ? this._trans.__('Show it in the Cookbook panel')
      : '';
    this.node.dataset.waiting = this._state?.waiting ? 'true' : 'false';
    if (was !== this.active) {
      this._activeChanged.emit();
    }
  }

  private _onClick = (): void => {
    if (this._state) {
      void this._sidebar.showGeneration(this._state.generationId);
    } else {
      void this._sidebar.show();
    }
  };

  private _state: ReturnType<typeof statusText> = null;
  private _activeChanged = new Signal<this, void>(this);
}
