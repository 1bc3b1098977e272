import { Dialog, showDialog } from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';
import { Button, caretRightIcon } from '@jupyterlab/ui-components';
import * as React from 'react';

import { errorMessage, IPackInfo, isAbortError } from '../api';
import {
  noCatalogConfigured,
  PackAction,
  packActionLabels,
  packActions,
  packStateText,
  unreadableCatalogs
} from '../catalog';
import type { ICookbook } from '../tokens';
import { useSignal } from './hooks';
import { loadFlag, saveFlag } from './persist';

const OPEN_KEY = 'cookbook-ext:catalog-open:v1';

export interface ICatalogSectionProps {
  /** Installing, updating or removing a pack through it refreshes the recipes too. */
  model: ICookbook;
  trans: TranslationBundle;
  /** Ask before removing a pack no catalogue lists any more (default: a JupyterLab dialog). */
  confirmRemove?: (pack: IPackInfo) => Promise<boolean>;
}

/** What the last action did, for the polite status line. */
type Notice = {
  kind: 'installed' | 'updated' | 'current' | 'removed';
  pack: string;
} | null;

/**
 * Recipe catalogue: the packs of recipes an administrator publishes
 * (`c.RecipeRegistry.catalog_urls`), installed, available or with an
 * update; install, update and remove them. Read each time it opens (the
 * server fetches every catalogue then), not with the panel.
 */
export function CatalogSection(props: ICatalogSectionProps): JSX.Element {
  const { model, trans } = props;
  useSignal(model.catalogChanged);
  const [open, setOpen] = React.useState(() => loadFlag(OPEN_KEY, false));
  const [reload, setReload] = React.useState(0);
  const [loading, setLoading] = React.useState(false);
  const [busy, setBusy] = React.useState<{
    id: string;
    action: PackAction;
  } | null>(null);
  const [error, setError] = React.useState<string | null>(null);
  const [notice, setNotice] = React.useState<Notice>(null);
  const catalog = model.catalog;

  React.useEffect(() => {
    // Read on every opening: a pack the administrator published since shows up.
    if (!open) {
      return;
    }
    const controller = new AbortController();
    setLoading(true);
    model
      .refreshCatalog(controller.signal)
      .then(() => setError(null))
      .catch(err => {
        if (!isAbortError(err) && !controller.signal.aborted) {
          setError(errorMessage(err));
        }
      })
      .finally(() => {
        if (!controller.signal.aborted) {
          setLoading(false);
        }
      });
    return () => controller.abort();
  }, [model, open, reload]);

  const toggle = () => {
    setOpen(!open);
    saveFlag(OPEN_KEY, !open);
  };

  const run = async (pack: IPackInfo, action: PackAction) => {
    if (action === 'remove' && !pack.listed) {
      const confirm = props.confirmRemove ?? confirmRemoval(trans);
      if (!(await confirm(pack))) {
        return;
      }
    }
    setBusy({ id: pack.id, action });
    setError(null);
    setNotice(null);
    try {
      if (action === 'install') {
        await model.installPack(pack.id);
        setNotice({ kind: 'installed', pack: pack.id });
      } else if (action === 'update') {
        const change = await model.updatePack(pack.id);
        setNotice({
          kind: change.changed ? 'updated' : 'current',
          pack: pack.id
        });
      } else {
        await model.removePack(pack.id);
        setNotice({ kind: 'removed', pack: pack.id });
      }
    } catch (err) {
      // The server's words ({code, message}): a checksum, an unsafe pack, a catalogue down.
      setError(errorMessage(err));
    } finally {
      setBusy(null);
    }
  };

  const problems = catalog ? unreadableCatalogs(catalog) : [];
  const packs = catalog?.packs ?? [];
  return (
    <section
      className="jp-Cookbook-section jp-Cookbook-catalogSection"
      aria-labelledby="jp-Cookbook-catalog-toggle"
    >
      <h3 className="jp-Cookbook-sectionTitle">
        <button
          id="jp-Cookbook-catalog-toggle"
          type="button"
          className="jp-Cookbook-disclosure"
          aria-expanded={open}
          aria-controls="jp-Cookbook-catalog-body"
          onClick={toggle}
        >
          <caretRightIcon.react
            tag="span"
            className="jp-Cookbook-caret"
            aria-hidden="true"
          />
          {trans.__('Recipe catalogue')}
        </button>
      </h3>
      {open && (
        <div id="jp-Cookbook-catalog-body" className="jp-Cookbook-catalog">
          <div className="jp-Cookbook-row">
            <p className="jp-Cookbook-muted" data-grow="true">
              {loading
                ? trans.__('Reading the catalogues…')
                : trans.__(
                    'Packs of recipes your administrator publishes. Installed recipes appear in the Template list.'
                  )}
            </p>
            <Button
              small
              minimal
              disabled={loading || busy !== null}
              onClick={() => setReload(r => r + 1)}
              aria-label={trans.__('Refresh the recipe catalogue')}
              title={trans.__('Read the catalogues again')}
            >
              {trans.__('Refresh')}
            </Button>
          </div>
          {catalog && noCatalogConfigured(catalog) && (
            <p className="jp-Cookbook-muted jp-Cookbook-catalogNone">
              {trans.__(
                'No recipe catalogue is configured. An administrator adds one with %1 in the Jupyter server’s configuration.',
                'c.RecipeRegistry.catalog_urls'
              )}
            </p>
          )}
          {problems.length > 0 && (
            <ul
              className="jp-Cookbook-warnings jp-Cookbook-catalogProblems"
              aria-label={trans.__('Catalogues that could not be read')}
            >
              {problems.map(c => (
                <li
                  key={c.url}
                  className="jp-Cookbook-warning"
                  data-catalog-url={c.url}
                >
                  {trans.__(
                    'Could not read the catalogue %1: %2 Installed recipes keep working.',
                    c.url,
                    c.error || trans.__('no answer.')
                  )}
                </li>
              ))}
            </ul>
          )}
          {catalog && catalog.catalogs.length > 0 && packs.length === 0 && (
            <p className="jp-Cookbook-muted">
              {trans.__('The catalogues list no packs.')}
            </p>
          )}
          {packs.length > 0 && (
            <ul
              className="jp-Cookbook-packList"
              aria-label={trans.__('Recipe packs')}
            >
              {packs.map(pack => (
                <li
                  key={pack.id}
                  className="jp-Cookbook-pack"
                  data-pack-id={pack.id}
                  data-state={pack.state}
                >
                  <div className="jp-Cookbook-packInfo">
                    <span
                      className="jp-Cookbook-packName"
                      title={pack.catalog ?? undefined}
                    >
                      {pack.id}
                    </span>
                    <span
                      className="jp-Cookbook-packState"
                      data-state={pack.state}
                    >
                      {packStateText(trans, pack)}
                    </span>
                    {pack.description && (
                      <span className="jp-Cookbook-packDescription">
                        {pack.description}
                      </span>
                    )}
                    {pack.recipes.length > 0 && (
                      <span className="jp-Cookbook-packRecipes">
                        {trans._n(
                          'Recipe: %2',
                          'Recipes: %2',
                          pack.recipes.length,
                          pack.recipes.join(', ')
                        )}
                      </span>
                    )}
                  </div>
                  <div className="jp-Cookbook-packActions">
                    {packActions(pack).map(action => {
                      const labels = packActionLabels(trans, action, pack);
                      const working =
                        busy?.id === pack.id && busy.action === action;
                      return (
                        <Button
                          key={action}
                          small
                          minimal={action === 'remove'}
                          className={
                            action === 'remove'
                              ? undefined
                              : 'jp-Cookbook-accent'
                          }
                          disabled={busy !== null || loading}
                          aria-label={labels.name}
                          onClick={() => void run(pack, action)}
                        >
                          {working ? busyText(trans, action) : labels.text}
                        </Button>
                      );
                    })}
                  </div>
                </li>
              ))}
            </ul>
          )}
          {error && (
            <div className="jp-Cookbook-error" role="alert">
              {error}
            </div>
          )}
          <p className="jp-Cookbook-muted" role="status">
            {noticeText(trans, notice)}
          </p>
        </div>
      )}
    </section>
  );
}

function busyText(trans: TranslationBundle, action: PackAction): string {
  switch (action) {
    case 'install':
      return trans.__('Installing…');
    case 'update':
      return trans.__('Updating…');
    default:
      return trans.__('Removing…');
  }
}

function noticeText(trans: TranslationBundle, notice: Notice): string {
  switch (notice?.kind) {
    case 'installed':
      return trans.__(
        'Installed %1: its recipes are in the Template list.',
        notice.pack
      );
    case 'updated':
      return trans.__('Updated %1.', notice.pack);
    case 'current':
      return trans.__('%1 is up to date.', notice.pack);
    case 'removed':
      return trans.__('Removed %1.', notice.pack);
    default:
      return '';
  }
}

/** Ask before removing a pack that cannot be installed again from a catalogue. */
function confirmRemoval(
  trans: TranslationBundle
): (pack: IPackInfo) => Promise<boolean> {
  return async pack => {
    const result = await showDialog({
      title: trans.__('Remove %1?', pack.id),
      body: trans.__(
        'No catalogue lists this pack now, so it cannot be installed again from here.'
      ),
      buttons: [
        Dialog.cancelButton({ label: trans.__('Cancel') }),
        Dialog.warnButton({ label: trans.__('Remove') })
      ]
    });
    return result.button.accept;
  };
}
