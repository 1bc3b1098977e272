import type { IRecipe } from '../api';
import {
  checkInput,
  checkInputs,
  fieldValue,
  inputFields,
  ownInputs,
  recipeInputs
} from '../recipeForm';

const RECIPE: IRecipe = {
  id: 'typed',
  title: 'Typed',
  inputs: [
    { name: 'prompt', type: 'text', required: true },
    { name: 'data_path', type: 'path', required: true, label: 'Data' },
    { name: 'samples', type: 'number', min: 1, max: 50, default: 5 },
    { name: 'plot', type: 'boolean' },
    { name: 'metric', type: 'choice', choices: ['f1', 'accuracy'] },
    { name: 'labels', type: 'array<string>', min: 2 },
    { name: 'baseline', type: 'hf_model' }
  ]
};

describe('recipe inputs', () => {
  it('reads a list, a mapping, or bare names alike', () => {
    expect(recipeInputs(RECIPE).map(i => i.name)).toEqual([
      'prompt',
      'data_path',
      'samples',
      'plot',
      'metric',
      'labels',
      'baseline'
    ]);
    const mapping = recipeInputs({
      id: 'm',
      title: 'M',
      inputs: { n: { type: 'number', required: true } }
    });
    expect(mapping).toEqual([
      expect.objectContaining({ name: 'n', type: 'number', required: true })
    ]);
    expect(
      recipeInputs({ id: 'o', title: 'O', inputs: ['topic', 'x'] })
    ).toEqual([
      expect.objectContaining({ name: 'topic', type: 'string' }),
      expect.objectContaining({ name: 'x', type: 'string', label: 'x' })
    ]);
  });

  it('leaves the shared inputs to their own fields', () => {
    expect(ownInputs(RECIPE).map(i => i.name)).not.toContain('prompt');
  });

  it('shows the default until the user enters a value', () => {
    const [samples] = recipeInputs(RECIPE).filter(i => i.name === 'samples');
    expect(fieldValue(samples, {})).toBe(5);
    expect(fieldValue(samples, { samples: '7' })).toBe('7');
  });

  it('refuses what the server would refuse, naming the bound', () => {
    const byName = Object.fromEntries(
      recipeInputs(RECIPE).map(i => [i.name, i])
    );
    expect(checkInput(byName.data_path, '  ')).toEqual({ kind: 'required' });
    expect(checkInput(byName.samples, '0')).toEqual({
      kind: 'tooSmall',
      limit: 1
    });
    expect(checkInput(byName.samples, '51')).toEqual({
      kind: 'tooLarge',
      limit: 50
    });
    expect(checkInput(byName.samples, 'many')).toEqual({ kind: 'notNumber' });
    expect(checkInput(byName.samples, '')).toBeNull();
    expect(checkInput(byName.metric, 'recall')).toEqual({ kind: 'notAChoice' });
    expect(checkInput(byName.labels, ['pos', ' '])).toEqual({
      kind: 'tooFew',
      limit: 2
    });
    expect(checkInput(byName.labels, ['pos', 'neg'])).toBeNull();
    expect(
      checkInputs(RECIPE, { data_path: 'data/x.csv', labels: ['a', 'b'] })
    ).toEqual({});
  });

  it('sends typed values: data_path at the top level, the others in inputs', () => {
    expect(
      inputFields(RECIPE, {
        data_path: ' data/x.csv ',
        samples: '12',
        plot: true,
        metric: 'f1',
        labels: ['pos', '', ' neg '],
        baseline: ''
      })
    ).toEqual({
      data_path: 'data/x.csv',
      inputs: { samples: 12, plot: true, metric: 'f1', labels: ['pos', 'neg'] }
    });
  });
});
