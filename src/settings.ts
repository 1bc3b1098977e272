/**
 * The extension's user settings (schema/core.json, `cookbook-ext:core`),
 * typed, with defaults.
 */
import type { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ISignal, Signal } from '@lumino/signaling';

import type { Complexity } from './api';
import type { InsertionPoint } from './notebook';

export interface ICookbookSettings {
  insertionPoint: InsertionPoint;
  defaultTemplate: string;
  defaultComplexity: Complexity;
  /** '' means the server's default. */
  defaultProvider: string;
  modelSearchLimit: number;
  /** When the server asks before running a cell; 'server': its own default. */
  approval: 'server' | 'never' | 'risky' | 'always';
}

export const DEFAULT_SETTINGS: ICookbookSettings = {
  insertionPoint: 'end',
  defaultTemplate: 'quickstart',
  defaultComplexity: 'basic',
  defaultProvider: '',
  modelSearchLimit: 20,
  approval: 'server'
};

const COMPLEXITIES: Complexity[] = ['basic', 'intermediate', 'advanced'];

/** Validates loosely: anything unexpected falls back to the default. */
export function parseSettings(
  raw: Partial<Record<string, any>>
): ICookbookSettings {
  const s = { ...DEFAULT_SETTINGS };
  if (raw.insertionPoint === 'end' || raw.insertionPoint === 'after-active') {
    s.insertionPoint = raw.insertionPoint;
  }
  if (typeof raw.defaultTemplate === 'string' && raw.defaultTemplate.trim()) {
    s.defaultTemplate = raw.defaultTemplate.trim();
  }
  if (COMPLEXITIES.includes(raw.defaultComplexity)) {
    s.defaultComplexity = raw.defaultComplexity;
  }
  if (typeof raw.defaultProvider === 'string') {
    s.defaultProvider = raw.defaultProvider.trim();
  }
  if (typeof raw.modelSearchLimit === 'number' && raw.modelSearchLimit >= 1) {
    s.modelSearchLimit = Math.min(100, Math.floor(raw.modelSearchLimit));
  }
  if (['server', 'never', 'risky', 'always'].includes(raw.approval)) {
    s.approval = raw.approval;
  }
  return s;
}

/** The current settings, updated when the user edits them. */
export class SettingsModel {
  get value(): ICookbookSettings {
    return this._value;
  }

  get changed(): ISignal<this, ICookbookSettings> {
    return this._changed;
  }

  attach(settings: ISettingRegistry.ISettings): void {
    const update = () => {
      this._value = parseSettings(settings.composite as Record<string, any>);
      this._changed.emit(this._value);
    };
    settings.changed.connect(update, this);
    update();
  }

  private _value: ICookbookSettings = { ...DEFAULT_SETTINGS };
  private _changed = new Signal<this, ICookbookSettings>(this);
}
