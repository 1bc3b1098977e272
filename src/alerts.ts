/**
 * Approvals the user cannot miss: while a cell waits for their go-ahead, a
 * count on the Cookbook sidebar icon, a notification with Run / Skip when
 * the panel is not showing (Show / Skip only for code from an untrusted
 * repository: it runs from the card, seen whole), and a status-bar item; all
 * go when it is answered (here, in the panel, or in another tab).
 */
import type { TranslationBundle } from '@jupyterlab/translation';
import type { Title, Widget } from '@lumino/widgets';

import type { IApproval } from './progress';
import type { ICookbook, ICookbookSidebar, IPendingApproval } from './tokens';

/** The part of JupyterLab's `Notification` this module uses. */
export interface INotifier {
  warning(
    message: string,
    options: {
      autoClose: false | number;
      actions: Array<{
        label: string;
        caption?: string;
        callback: (event: MouseEvent) => void;
        displayType?: 'accent' | 'warn' | 'link' | 'default';
      }>;
    }
  ): string;
  dismiss(id?: string): void;
}

export interface IApprovalAlertsOptions {
  model: ICookbook;
  sidebar: ICookbookSidebar;
  /** The sidebar tab's title: it carries the count. */
  title: Title<Widget>;
  trans: TranslationBundle;
  notifier: INotifier;
}

/** What a waiting cell will do, in one short line (a notification is 140 characters). */
export function approvalSummary(
  trans: TranslationBundle,
  approval: IApproval,
  notebook: string
): string {
  const what = approval.title
    ? trans.__('“%1”', approval.title)
    : trans.__('cell %1', approval.cellId);
  const detail = approval.details[0] ?? approval.reasons[0] ?? '';
  const head = trans.__('Cookbook asks to run %1 in %2.', what, notebook);
  return detail ? `${head}\n${detail}` : head;
}

export class ApprovalAlerts {
  constructor(private readonly _options: IApprovalAlertsOptions) {
    this._caption = _options.title.caption;
    const { model } = _options;
    model.generationChanged.connect(this._update, this);
    model.generationStarted.connect(this._update, this);
    model.generationFinished.connect(this._update, this);
    this._update();
  }

  /** The cells waiting now. */
  get pending(): ReadonlyArray<IPendingApproval> {
    return this._pending;
  }

  /** Re-read the waiting approvals (e.g. after the panel was shown or hidden). */
  refresh(): void {
    this._update();
  }

  dispose(): void {
    const { model } = this._options;
    model.generationChanged.disconnect(this._update, this);
    model.generationStarted.disconnect(this._update, this);
    model.generationFinished.disconnect(this._update, this);
    for (const id of this._notifications.values()) {
      this._options.notifier.dismiss(id);
    }
    this._notifications.clear();
  }

  private _update(): void {
    const { model, sidebar, title, trans, notifier } = this._options;
    this._pending = model.pendingApprovals();
    const count = this._pending.length;
    const dataset = { ...title.dataset };
    if (count > 0) {
      dataset['cookbook-pending'] = String(count);
      title.className = addClass(title.className, 'jp-Cookbook-mod-pending');
      title.caption = trans._n(
        'Cookbook: %1 cell is waiting for your approval',
        'Cookbook: %1 cells are waiting for your approval',
        count
      );
    } else {
      delete dataset['cookbook-pending'];
      title.className = removeClass(title.className, 'jp-Cookbook-mod-pending');
      title.caption = this._caption;
    }
    title.dataset = dataset;

    const waiting = new Set(this._pending.map(p => p.approval.approvalId));
    for (const [approvalId, id] of this._notifications) {
      if (!waiting.has(approvalId)) {
        notifier.dismiss(id);
        this._notifications.delete(approvalId);
      }
    }
    for (const { generation, approval } of this._pending) {
      const key = approval.approvalId;
      if (this._notifications.has(key) || this._seen.has(key)) {
        continue;
      }
      this._seen.add(key);
      if (sidebar.isVisible) {
        // The panel shows the card and moves the focus to it.
        continue;
      }
      const answer = (approved: boolean) => {
        this._notifications.delete(key);
        model
          .answerApproval(generation.id, key, approved)
          .catch(() => sidebar.showGeneration(generation.id));
      };
      const notebook = generation.path.split('/').pop() || generation.path;
      // Code copied from a repository the user has not trusted runs only
      // from the card, where it is shown whole: the notification offers to
      // show it, not to run it unseen.
      const run = approval.untrusted
        ? []
        : [
            {
              label: trans.__('Run'),
              caption: trans.__('Run this cell in your kernel'),
              displayType: 'accent' as const,
              callback: () => answer(true)
            }
          ];
      const id = notifier.warning(approvalSummary(trans, approval, notebook), {
        autoClose: false,
        actions: [
          ...run,
          {
            label: trans.__('Skip'),
            caption: trans.__('Do not run this cell'),
            callback: () => answer(false)
          },
          {
            label: trans.__('Show'),
            caption: trans.__('Show the cell in the Cookbook panel'),
            displayType: 'link',
            callback: () => {
              this._notifications.delete(key);
              void sidebar.showGeneration(generation.id);
            }
          }
        ]
      });
      this._notifications.set(key, id);
    }
  }

  private _caption: string;
  private _pending: IPendingApproval[] = [];
  /** approval id → notification id. */
  private _notifications = new Map<string, string>();
  /** Approvals already announced (a notification the user closed stays closed). */
  private _seen = new Set<string>();
}

function addClass(names: string, name: string): string {
  const list = names.split(/\s+/).filter(Boolean);
  return list.includes(name) ? names : [...list, name].join(' ');
}

function removeClass(names: string, name: string): string {
  return names
    .split(/\s+/)
    .filter(n => n && n !== name)
    .join(' ');
}
