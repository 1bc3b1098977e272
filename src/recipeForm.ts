/**
 * A recipe's typed inputs as the panel's form sees them: normalised from
 * whatever shape the server sends, checked before anything is sent (the
 * server checks again), and turned into request fields. Pure.
 */
import type { IRecipe, IRecipeInput, RecipeInputType } from './api';

/** A value a form field holds. */
export type RecipeValue = string | number | boolean | string[];

/** One typed input, normalised. */
export interface IInputSpec {
  name: string;
  type: RecipeInputType;
  required: boolean;
  default?: RecipeValue;
  /** The field's label (else its name). */
  label: string;
  description: string;
  choices: string[];
  min: number | null;
  max: number | null;
}

const TYPES: ReadonlySet<string> = new Set([
  'string',
  'text',
  'number',
  'boolean',
  'choice',
  'array<string>',
  'hf_model',
  'path'
]);

/**
 * Inputs every recipe shares, which have fields of their own in the panel
 * (the prompt box, the topic field, the complexity select, the model search).
 */
export const COMMON_INPUTS: ReadonlySet<string> = new Set([
  'prompt',
  'topic',
  'complexity',
  'hf_model_id'
]);

/** Inputs the request also takes as top-level fields (older servers know only these). */
const TOP_LEVEL_INPUTS: ReadonlySet<string> = new Set([
  'data_path',
  'compare_with'
]);

function asValue(
  value: unknown,
  type: RecipeInputType
): RecipeValue | undefined {
  if (value === null || value === undefined) {
    return undefined;
  }
  switch (type) {
    case 'number':
      // What the user typed stays text until it is sent (e.g. "1." midway).
      return (typeof value === 'number' && isFinite(value)) ||
        typeof value === 'string'
        ? value
        : undefined;
    case 'boolean':
      return typeof value === 'boolean' ? value : undefined;
    case 'array<string>':
      return Array.isArray(value) ? value.map(String) : undefined;
    default:
      return typeof value === 'string' ? value : String(value);
  }
}

function spec(name: string, raw: IRecipeInput | string): IInputSpec {
  const input: IRecipeInput = typeof raw === 'string' ? { name: raw } : raw;
  const type = (
    TYPES.has(String(input.type)) ? input.type : 'string'
  ) as RecipeInputType;
  const label =
    (typeof input.label === 'string' && input.label) ||
    (typeof input.title === 'string' && input.title) ||
    name;
  const num = (v: unknown) => (typeof v === 'number' && isFinite(v) ? v : null);
  const def = asValue(input.default, type);
  return {
    name,
    type,
    required: input.required === true,
    ...(def !== undefined ? { default: def } : {}),
    label,
    description: typeof input.description === 'string' ? input.description : '',
    choices: Array.isArray(input.choices) ? input.choices.map(String) : [],
    min: num(input.min),
    max: num(input.max)
  };
}

/** A recipe's inputs in display order, whatever shape the server used. */
export function recipeInputs(recipe: IRecipe | undefined): IInputSpec[] {
  const inputs = recipe?.inputs;
  if (!inputs) {
    return [];
  }
  if (Array.isArray(inputs)) {
    return inputs
      .map(raw => {
        const name = typeof raw === 'string' ? raw : raw?.name;
        return typeof name === 'string' && name ? spec(name, raw) : null;
      })
      .filter((s): s is IInputSpec => s !== null);
  }
  return Object.entries(inputs).map(([name, raw]) => spec(name, raw ?? {}));
}

/** The inputs beyond the common ones: the recipe's own form fields. */
export function ownInputs(recipe: IRecipe | undefined): IInputSpec[] {
  return recipeInputs(recipe).filter(s => !COMMON_INPUTS.has(s.name));
}

/** The value a field shows: what the user entered, else the default, else empty. */
export function fieldValue(
  input: IInputSpec,
  values: Readonly<Record<string, unknown>> | undefined
): RecipeValue {
  const entered = asValue(values?.[input.name], input.type);
  if (entered !== undefined) {
    return entered;
  }
  if (input.default !== undefined) {
    return input.default;
  }
  switch (input.type) {
    case 'boolean':
      return false;
    case 'array<string>':
      return [];
    case 'number':
      return '';
    default:
      return '';
  }
}

/** What a field's value means for the request: undefined for "not given". */
function normalised(
  input: IInputSpec,
  value: RecipeValue
): RecipeValue | undefined {
  switch (input.type) {
    case 'number': {
      if (typeof value === 'number') {
        return value;
      }
      const text = String(value).trim();
      return text === '' ? undefined : Number(text);
    }
    case 'boolean':
      return value === true;
    case 'array<string>': {
      const items = (Array.isArray(value) ? value : [])
        .map(v => v.trim())
        .filter(v => v.length > 0);
      return items.length > 0 ? items : undefined;
    }
    default: {
      const text = String(value).trim();
      return text === '' ? undefined : text;
    }
  }
}

/** Why a field's value is refused, as the words the panel shows. */
export interface IInputProblem {
  kind:
    | 'required'
    | 'notNumber'
    | 'tooSmall'
    | 'tooLarge'
    | 'tooShort'
    | 'tooLong'
    | 'tooFew'
    | 'tooMany'
    | 'notAChoice'
    | 'oneLine';
  /** The bound crossed, when there is one. */
  limit?: number;
}

/** Check one field; null when it is fine. */
export function checkInput(
  input: IInputSpec,
  value: RecipeValue
): IInputProblem | null {
  const v = normalised(input, value);
  if (v === undefined) {
    return input.required ? { kind: 'required' } : null;
  }
  switch (input.type) {
    case 'number': {
      const n = v as number;
      if (!isFinite(n)) {
        return { kind: 'notNumber' };
      }
      if (input.min !== null && n < input.min) {
        return { kind: 'tooSmall', limit: input.min };
      }
      if (input.max !== null && n > input.max) {
        return { kind: 'tooLarge', limit: input.max };
      }
      return null;
    }
    case 'array<string>': {
      const items = v as string[];
      if (input.min !== null && items.length < input.min) {
        return { kind: 'tooFew', limit: input.min };
      }
      if (input.max !== null && items.length > input.max) {
        return { kind: 'tooMany', limit: input.max };
      }
      return null;
    }
    case 'choice':
      return input.choices.length > 0 && !input.choices.includes(v as string)
        ? { kind: 'notAChoice' }
        : null;
    case 'string':
    case 'text': {
      const text = v as string;
      if (input.type === 'string' && /[\r\n]/.test(text)) {
        return { kind: 'oneLine' };
      }
      if (input.min !== null && text.length < input.min) {
        return { kind: 'tooShort', limit: input.min };
      }
      if (input.max !== null && text.length > input.max) {
        return { kind: 'tooLong', limit: input.max };
      }
      return null;
    }
    default:
      return null;
  }
}

/** Every refused field of the recipe's own inputs, by name. */
export function checkInputs(
  recipe: IRecipe | undefined,
  values: Readonly<Record<string, unknown>> | undefined
): Record<string, IInputProblem> {
  const problems: Record<string, IInputProblem> = {};
  for (const input of ownInputs(recipe)) {
    const problem = checkInput(input, fieldValue(input, values));
    if (problem) {
      problems[input.name] = problem;
    }
  }
  return problems;
}

/**
 * The recipe's own inputs the user gave, as request fields: `data_path` and
 * `compare_with` at the top level (every server knows them), the others in
 * `inputs`.
 */
export function inputFields(
  recipe: IRecipe | undefined,
  values: Readonly<Record<string, unknown>> | undefined
): {
  data_path?: string;
  compare_with?: string;
  inputs?: Record<string, RecipeValue>;
} {
  const out: {
    data_path?: string;
    compare_with?: string;
    inputs?: Record<string, RecipeValue>;
  } = {};
  const inputs: Record<string, RecipeValue> = {};
  for (const input of ownInputs(recipe)) {
    const value = normalised(input, fieldValue(input, values));
    if (value === undefined) {
      continue;
    }
    if (TOP_LEVEL_INPUTS.has(input.name) && typeof value === 'string') {
      out[input.name as 'data_path' | 'compare_with'] = value;
    } else {
      inputs[input.name] = value;
    }
  }
  if (Object.keys(inputs).length > 0) {
    out.inputs = inputs;
  }
  return out;
}
