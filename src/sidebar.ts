/**
 * The left sidebar's Cookbook widget: a lightweight placeholder that loads
 * the React panel the first time it is shown, so the extension adds little
 * to JupyterLab's start-up.
 */
import type { TranslationBundle } from '@jupyterlab/translation';
import { ISignal, Signal } from '@lumino/signaling';
import { Panel } from '@lumino/widgets';

import type { CookbookPanel } from './panel/CookbookPanel';
import type { ICookbook } from './tokens';

export interface ICookbookSidebarOptions {
  model: ICookbook;
  trans: TranslationBundle;
  /** Open a file in the application (to bring a closed target back). */
  openPath: (path: string) => void;
  /** Pick a file or folder under the Jupyter root (null: none can be picked). */
  pickPath?: (() => Promise<string | null>) | null;
}

export class CookbookSidebar extends Panel {
  constructor(private readonly _options: ICookbookSidebarOptions) {
    super();
    this.addClass('jp-Cookbook-sidebar');
  }

  /** Emitted when the sidebar is shown or hidden. */
  get visibilityChanged(): ISignal<this, boolean> {
    return this._visibilityChanged;
  }

  /** The panel, loading it if needed. */
  ready(): Promise<CookbookPanel> {
    if (!this._ready) {
      this._ready = import('./panel/CookbookPanel').then(
        ({ CookbookPanel }) => {
          const panel = new CookbookPanel({
            ...this._options,
            isShown: () => this.isVisible
          });
          this.addWidget(panel);
          return panel;
        }
      );
    }
    return this._ready;
  }

  protected onBeforeShow(): void {
    void this.ready();
  }

  protected onAfterShow(): void {
    this._visibilityChanged.emit(true);
  }

  protected onAfterHide(): void {
    this._visibilityChanged.emit(false);
  }

  private _ready: Promise<CookbookPanel> | null = null;
  private _visibilityChanged = new Signal<this, boolean>(this);
}
