/**
 * The recipe catalogue as the panel shows it: each pack's actions and state
 * in words, and the catalogue state after one pack changed. Pure.
 */
import type { TranslationBundle } from '@jupyterlab/translation';

import type {
  ICatalogInfo,
  ICatalogState,
  IPackChange,
  IPackInfo
} from './api';

export type PackAction = 'install' | 'update' | 'remove';

/** What can be done with a pack in its state. */
export function packActions(pack: IPackInfo): PackAction[] {
  switch (pack.state) {
    case 'available':
      return ['install'];
    case 'update':
      return ['update', 'remove'];
    default:
      return ['remove'];
  }
}

/** The catalogues that could not be read. */
export function unreadableCatalogs(state: ICatalogState): ICatalogInfo[] {
  return state.catalogs.filter(c => !c.ok);
}

/** Whether the server has no catalogue configured (and no pack installed from one). */
export function noCatalogConfigured(state: ICatalogState): boolean {
  return state.catalogs.length === 0 && state.packs.length === 0;
}

/** The catalogue state with one pack as the server answered an install or update. */
export function withPack(
  state: ICatalogState,
  change: IPackChange | IPackInfo
): ICatalogState {
  const pack: IPackInfo = {
    id: change.id,
    description: change.description,
    recipes: change.recipes,
    state: change.state,
    installed_version: change.installed_version,
    available_version: change.available_version,
    catalog: change.catalog,
    listed: change.listed
  };
  const known = state.packs.some(p => p.id === pack.id);
  return {
    ...state,
    packs: known
      ? state.packs.map(p => (p.id === pack.id ? pack : p))
      : [...state.packs, pack]
  };
}

/**
 * The catalogue state once a pack is removed: available again when a
 * catalogue lists it, else gone from the list.
 */
export function withoutPack(state: ICatalogState, id: string): ICatalogState {
  return {
    ...state,
    packs: state.packs.flatMap(p =>
      p.id !== id
        ? [p]
        : p.listed
          ? [{ ...p, state: 'available' as const, installed_version: null }]
          : []
    )
  };
}

/** A pack's state in words: "Installed 1.0.0", "Update available: 1.0.0 → 1.2.0". */
export function packStateText(
  trans: TranslationBundle,
  pack: IPackInfo
): string {
  const have = pack.installed_version ?? '';
  const listed = pack.available_version ?? '';
  switch (pack.state) {
    case 'available':
      return listed ? trans.__('Available: %1', listed) : trans.__('Available');
    case 'update':
      return trans.__('Update available: %1 → %2', have || '?', listed);
    default:
      if (!pack.listed) {
        return have
          ? trans.__('Installed %1 (no catalogue lists it now)', have)
          : trans.__('Installed (no catalogue lists it now)');
      }
      return have ? trans.__('Installed %1', have) : trans.__('Installed');
  }
}

/** A pack action's button text and its accessible name (which names the pack). */
export function packActionLabels(
  trans: TranslationBundle,
  action: PackAction,
  pack: IPackInfo
): { text: string; name: string } {
  switch (action) {
    case 'install':
      return {
        text: trans.__('Install'),
        name: trans.__('Install pack %1', pack.id)
      };
    case 'update':
      return {
        text: trans.__('Update'),
        name: pack.available_version
          ? trans.__('Update pack %1 to %2', pack.id, pack.available_version)
          : trans.__('Update pack %1', pack.id)
      };
    default:
      return {
        text: trans.__('Remove'),
        name: trans.__('Remove pack %1', pack.id)
      };
  }
}
