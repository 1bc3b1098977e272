/**
 * The body of `POST cookbook/generations`, built from what the panel holds:
 * the recipe form, the chosen model, and the secrets the user lets the kernel
 * see. Pure, so it is tested without a browser.
 */
import type {
  Complexity,
  IGenerationRequest,
  IRecipe,
  ISecretInfo
} from './api';
import { inputFields, RecipeValue } from './recipeForm';
import type { ICookbookSettings } from './settings';

export interface IRecipeForm {
  prompt: string;
  template: string;
  topic: string;
  complexity: Complexity;
  /** '' means the server's default provider. */
  provider: string;
  /** '' means the provider's default model. */
  model: string;
  /** The recipe's own typed inputs (e.g. data_path, compare_with), by name. */
  extras: Record<string, RecipeValue>;
}

/** The secrets the kernel may see for one generation: none unless the user ticks them. */
export interface ISecretConsent {
  /** Names the user ticked. */
  names: string[];
  /** Leave them in the user's kernel afterwards (else Cookbook removes them). */
  keep: boolean;
}

export function noSecrets(): ISecretConsent {
  return { names: [], keep: false };
}

/** Whether a stored secret can be offered to the kernel (the server can decrypt it). */
export function isUsableSecret(secret: ISecretInfo): boolean {
  return secret.unreadable !== true;
}

/**
 * The ticked names that are still stored and usable: a secret deleted (or
 * become unreadable) since it was ticked is not sent.
 */
export function consentedSecrets(
  consent: ISecretConsent,
  stored: readonly ISecretInfo[] | null
): string[] {
  const usable = new Set(
    (stored ?? []).filter(isUsableSecret).map(s => s.name)
  );
  return consent.names.filter(
    (name, i) => usable.has(name) && consent.names.indexOf(name) === i
  );
}

/** Tick or untick one secret. */
export function toggleSecret(
  consent: ISecretConsent,
  name: string,
  on: boolean
): ISecretConsent {
  const names = consent.names.filter(n => n !== name);
  return { ...consent, names: on ? [...names, name] : names };
}

export interface IRequestInputs {
  repoId: string;
  /** The Hugging Face model chosen ('' for none). */
  hfModel: string;
  form: IRecipeForm;
  /** The form's recipe, for its own typed inputs. */
  recipe: IRecipe | undefined;
  approval: ICookbookSettings['approval'];
  consent: ISecretConsent;
  /** The stored secrets as last listed (null: not known yet, so none is sent). */
  storedSecrets: readonly ISecretInfo[] | null;
}

/** The generation request for what the panel holds (the kernel id is added when it starts). */
export function generationRequest(
  inputs: IRequestInputs
): Omit<IGenerationRequest, 'kernel_id'> {
  const { form } = inputs;
  const secrets = consentedSecrets(inputs.consent, inputs.storedSecrets);
  return {
    repo_id: inputs.repoId,
    prompt: form.prompt.trim(),
    template: form.template,
    complexity: form.complexity,
    ...(inputs.hfModel ? { hf_model_id: inputs.hfModel } : {}),
    ...(form.topic.trim() ? { topic: form.topic.trim() } : {}),
    ...(form.provider ? { provider: form.provider } : {}),
    ...(form.model.trim() ? { model: form.model.trim() } : {}),
    ...inputFields(inputs.recipe, form.extras),
    ...(inputs.approval !== 'server' ? { approval: inputs.approval } : {}),
    // Always explicit: the kernel sees exactly what the user ticked.
    secrets,
    ...(secrets.length > 0 && inputs.consent.keep ? { keep_secrets: true } : {})
  };
}
