/**
 * The open notebooks as Cookbook sees them: find one by path once its
 * content is loaded, hear when one opens or closes, start its kernel. Built
 * on the optional notebook tracker, so the panel also loads where there are
 * no notebooks (e.g. Notebook 7's file browser page).
 */
import type { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { ISignal, Signal } from '@lumino/signaling';

import type { INotebookLike } from './notebook';

/** One open notebook whose content is loaded. */
export interface INotebookHandle {
  readonly path: string;
  readonly shared: INotebookLike;
  /** The nbformat id of the active cell, if any. */
  activeCellId(): string | null;
  /** Emitted after the notebook's cells changed (any source). */
  readonly cellsChanged: ISignal<INotebookHandle, void>;
  /** The running kernel's id, starting the notebook's kernel when none runs. */
  ensureKernel(): Promise<string | null>;
  /** The kernel's id if one is running. */
  kernelId(): string | null;
  /**
   * Run code in the notebook's kernel without adding a cell (e.g. an install
   * the user asked for); resolves with its text output and whether it raised.
   */
  runInKernel(code: string): Promise<IKernelRun>;
}

/** What running code in a notebook's kernel printed. */
export interface IKernelRun {
  ok: boolean;
  /** stdout, stderr and the error's name and value, as text. */
  output: string;
}

export interface INotebookHost {
  /** The notebook open at `path` with its content loaded, or null. */
  find(path: string): INotebookHandle | null;
  /** The notebook the user is working in, if any (its content may still be loading). */
  current(): INotebookHandle | null;
  /** A notebook finished loading (argument: its path). */
  readonly opened: ISignal<INotebookHost, string>;
  /** A notebook was closed by the user (argument: its path). */
  readonly closed: ISignal<INotebookHost, string>;
  /** A notebook was renamed or moved. */
  readonly renamed: ISignal<
    INotebookHost,
    { oldPath: string; newPath: string }
  >;
  /** The current notebook, or its kernel, changed. */
  readonly currentChanged: ISignal<INotebookHost, void>;
}

class PanelHandle implements INotebookHandle {
  constructor(readonly panel: NotebookPanel) {
    const model = panel.content.model;
    model?.cells.changed.connect(this._onCellsChanged, this);
  }

  get path(): string {
    return this.panel.context.path;
  }

  get shared(): INotebookLike {
    return this.panel.content.model!.sharedModel as unknown as INotebookLike;
  }

  get cellsChanged(): ISignal<INotebookHandle, void> {
    return this._cellsChanged;
  }

  activeCellId(): string | null {
    return this.panel.content.activeCell?.model.id ?? null;
  }

  kernelId(): string | null {
    return this.panel.sessionContext.session?.kernel?.id ?? null;
  }

  async ensureKernel(): Promise<string | null> {
    const ctx = this.panel.sessionContext;
    if (ctx.session?.kernel) {
      return ctx.session.kernel.id;
    }
    // Idempotent; does not wait for a kernel the user chose not to start.
    await ctx.initialize();
    if (!ctx.session?.kernel) {
      await ctx.specsManager.ready;
      // The notebook's own kernelspec, else the server's default.
      const name =
        ctx.kernelPreference.name || ctx.specsManager.specs?.default || '';
      if (!name) {
        throw new Error('No kernel is available to run the cells.');
      }
      await ctx.changeKernel({ name });
    }
    return ctx.session?.kernel?.id ?? null;
  }

  async runInKernel(code: string): Promise<IKernelRun> {
    await this.ensureKernel();
    const kernel = this.panel.sessionContext.session?.kernel;
    if (!kernel) {
      throw new Error('No kernel is running for this notebook.');
    }
    let output = '';
    let ok = true;
    const future = kernel.requestExecute({
      code,
      store_history: false,
      stop_on_error: true
    });
    future.onIOPub = msg => {
      const content = msg.content as Record<string, any>;
      if (msg.header.msg_type === 'stream') {
        output += String(content.text ?? '');
      } else if (msg.header.msg_type === 'error') {
        ok = false;
        output += `${content.ename}: ${content.evalue}\n`;
      }
    };
    const reply = await future.done;
    if ((reply?.content as { status?: string } | undefined)?.status !== 'ok') {
      ok = false;
    }
    return { ok, output };
  }

  dispose(): void {
    Signal.clearData(this);
  }

  private _onCellsChanged(): void {
    this._cellsChanged.emit();
  }

  private _cellsChanged = new Signal<INotebookHandle, void>(this);
}

export class NotebookHost implements INotebookHost {
  constructor(private readonly _tracker: INotebookTracker | null) {
    if (_tracker) {
      _tracker.forEach(panel => this._watch(panel));
      _tracker.widgetAdded.connect((_, panel) => this._watch(panel), this);
      _tracker.currentChanged.connect(this._onCurrentChanged, this);
      this._onCurrentChanged();
    }
  }

  get opened(): ISignal<INotebookHost, string> {
    return this._opened;
  }

  get closed(): ISignal<INotebookHost, string> {
    return this._closed;
  }

  get renamed(): ISignal<INotebookHost, { oldPath: string; newPath: string }> {
    return this._renamed;
  }

  get currentChanged(): ISignal<INotebookHost, void> {
    return this._currentChanged;
  }

  find(path: string): INotebookHandle | null {
    for (const [panel, handle] of this._handles) {
      if (
        !panel.isDisposed &&
        panel.context.isReady &&
        panel.context.path === path
      ) {
        return handle;
      }
    }
    return null;
  }

  current(): INotebookHandle | null {
    const panel = this._tracker?.currentWidget;
    if (!panel || panel.isDisposed) {
      return null;
    }
    return this._handles.get(panel) ?? null;
  }

  private _watch(panel: NotebookPanel): void {
    if (this._handles.has(panel)) {
      return;
    }
    const handle = new PanelHandle(panel);
    this._handles.set(panel, handle);
    let path = panel.context.path;
    const onPath = (_: unknown, newPath: string) => {
      const oldPath = path;
      path = newPath;
      if (oldPath !== newPath) {
        this._renamed.emit({ oldPath, newPath });
      }
    };
    panel.context.pathChanged.connect(onPath, this);
    void panel.context.ready.then(() => {
      if (!panel.isDisposed) {
        this._opened.emit(panel.context.path);
        this._currentChanged.emit();
      }
    });
    panel.sessionContext.kernelChanged.connect(this._onKernel, this);
    panel.sessionContext.statusChanged.connect(this._onKernel, this);
    panel.disposed.connect(() => {
      panel.context.pathChanged.disconnect(onPath, this);
      panel.sessionContext.kernelChanged.disconnect(this._onKernel, this);
      panel.sessionContext.statusChanged.disconnect(this._onKernel, this);
      this._handles.delete(panel);
      handle.dispose();
      this._closed.emit(path);
      this._currentChanged.emit();
    }, this);
  }

  private _onKernel(): void {
    this._currentChanged.emit();
  }

  private _onCurrentChanged(): void {
    this._currentChanged.emit();
  }

  private _handles = new Map<NotebookPanel, PanelHandle>();
  private _opened = new Signal<INotebookHost, string>(this);
  private _closed = new Signal<INotebookHost, string>(this);
  private _renamed = new Signal<
    INotebookHost,
    { oldPath: string; newPath: string }
  >(this);
  private _currentChanged = new Signal<INotebookHost, void>(this);
}
