/**
 * The recipe form follows the recipe's typed inputs (issue 11): a number
 * field, a checkbox, a list editor, a choice, a model id, a path with a file
 * picker; values are checked before anything is sent, and go to the server
 * typed; recipe files the server could not load are listed.
 *
 * The server's built-in recipes use few types, so the list is the one a
 * server with a user's recipe folder would send (`GET cookbook/recipes`).
 */
import { expect, test } from '@jupyterlab/galata';

import { ingestFixture, openCookbook } from './helpers';

const RECIPES = {
  recipes: [
    {
      id: 'typed',
      version: '1.2.0',
      title: 'Typed recipe',
      description: 'Every kind of input.',
      source: 'user',
      inputs: {
        prompt: { type: 'text', required: true, description: 'What to do.' },
        samples: {
          type: 'number',
          required: true,
          min: 1,
          max: 50,
          default: 5,
          description: 'How many rows to try.'
        },
        plot: { type: 'boolean', default: false, description: 'Draw a plot.' },
        metric: {
          type: 'choice',
          choices: ['f1', 'accuracy'],
          default: 'f1',
          description: 'How to score.'
        },
        labels: {
          type: 'array<string>',
          min: 2,
          description: 'The labels to expect.'
        },
        data_path: {
          type: 'path',
          required: true,
          label: 'Data',
          description: 'A file under the root.'
        }
      }
    }
  ],
  errors: [
    { file: 'recipes/broken.yaml', line: 3, message: 'inputs.n: unknown type "integer"' }
  ]
};

test.describe('The recipe form', () => {
  test('builds typed fields, checks them before sending, and sends typed values', async ({
    page
  }) => {
    await page.route(
      url => new URL(String(url)).pathname.endsWith('/cookbook/recipes'),
      route => route.fulfill({ json: RECIPES })
    );
    await page.notebook.createNew('recipes.ipynb');
    const panel = await openCookbook(page);
    await ingestFixture(panel);
    await expect(panel.getByLabel('Template')).toHaveValue('typed');
    const recipe = panel.locator('.jp-Cookbook-recipe');
    // Broken recipe files are listed, with where and why.
    await expect(recipe.locator('.jp-Cookbook-recipeErrors')).toContainText(
      '1 recipe file could not be loaded'
    );
    await recipe.locator('.jp-Cookbook-recipeErrors summary').click();
    await expect(recipe.locator('.jp-Cookbook-recipeErrors')).toContainText(
      'recipes/broken.yaml:3'
    );

    const samples = recipe.getByLabel('samples *');
    await expect(samples).toHaveAttribute('type', 'number');
    await expect(samples).toHaveValue('5');
    await expect(recipe.getByLabel('plot')).toHaveAttribute('type', 'checkbox');
    await expect(recipe.getByLabel('metric')).toHaveValue('f1');
    await expect(recipe.getByRole('button', { name: 'Browse for Data' })).toBeVisible();

    await panel.getByLabel('What should the notebook do?').fill('Score my reviews');
    // Refused before anything is sent: a required path, too few labels, a number out of range.
    const generate = panel.getByRole('button', { name: 'Generate into the notebook' });
    await expect(generate).toBeDisabled();
    await expect(panel.locator('.jp-Cookbook-reason')).toContainText('“Data”');
    await samples.fill('500');
    await recipe.getByRole('button', { name: 'Add an item' }).click();
    await recipe.getByLabel('labels, item 1').fill('positive');
    await recipe.getByLabel('Data *').fill('fixtures/tiny-sentiment/README.md');
    // One label is too few.
    await expect(panel.locator('.jp-Cookbook-reason')).toContainText('“samples”');
    await samples.fill('12');
    await expect(panel.locator('.jp-Cookbook-reason')).toContainText('“labels”');
    await recipe.getByRole('button', { name: 'Add an item' }).click();
    await recipe.getByLabel('labels, item 2').fill('negative');
    await recipe.getByLabel('plot').check();
    await recipe.getByLabel('metric').selectOption('accuracy');
    await expect(generate).toBeEnabled();

    // What is sent: the inputs by name, typed. The request stops on its way.
    await page.route(
      url => new URL(String(url)).pathname.endsWith('/cookbook/generations'),
      route =>
        route.request().method() === 'POST' ? route.abort() : route.continue()
    );
    const request = page.waitForRequest(
      r =>
        r.method() === 'POST' &&
        new URL(r.url()).pathname.endsWith('/cookbook/generations')
    );
    await generate.click();
    const body = (await request).postDataJSON();
    expect(body.template).toBe('typed');
    expect(body.data_path).toBe('fixtures/tiny-sentiment/README.md');
    expect(body.inputs).toEqual({
      samples: 12,
      plot: true,
      metric: 'accuracy',
      labels: ['positive', 'negative']
    });
  });
});
