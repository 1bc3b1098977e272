/**
 * Remembers the panel's inputs across page reloads (localStorage), so a
 * reload during a generation brings back the same recipe and source.
 */
import type { IRecipeForm } from '../request';

const KEY = 'cookbook-ext:form:v1';

export interface IPanelInputs {
  repoId: string | null;
  hfModel: string;
  form: IRecipeForm;
}

export function loadInputs(): Partial<IPanelInputs> | null {
  try {
    const raw = window.localStorage.getItem(KEY);
    const value = raw ? JSON.parse(raw) : null;
    return value && typeof value === 'object' ? value : null;
  } catch {
    return null;
  }
}

export function saveInputs(inputs: IPanelInputs): void {
  try {
    window.localStorage.setItem(KEY, JSON.stringify(inputs));
  } catch {
    /* storage unavailable: nothing to remember */
  }
}

/** A remembered on/off choice of the panel (e.g. a section left open). */
export function loadFlag(key: string, fallback: boolean): boolean {
  try {
    const raw = window.localStorage.getItem(key);
    return raw === null ? fallback : raw === '1';
  } catch {
    return fallback;
  }
}

export function saveFlag(key: string, value: boolean): void {
  try {
    window.localStorage.setItem(key, value ? '1' : '0');
  } catch {
    /* storage unavailable: nothing to remember */
  }
}
