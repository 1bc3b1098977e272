import { ServerConnection } from '@jupyterlab/services';

import {
  CookbookAPI,
  CookbookAPIError,
  errorMessage,
  isTransientError
} from '../api';

interface ICall {
  url: string;
  method: string;
  body: any;
  headers: Headers;
}

/** A fetch stand-in that records requests and answers from a queue. */
function fakeServer(
  ...responses: Array<Response | (() => Response | Promise<Response>) | Error>
) {
  const calls: ICall[] = [];
  const fetchImpl = async (input: RequestInfo, init?: RequestInit) => {
    const request = input instanceof Request ? input : new Request(input, init);
    const text = await request.text();
    calls.push({
      // ServerConnection appends a cache buster (`?<epoch ms>`) to every url.
      url: request.url.replace(/[?&]\d{13}$/, ''),
      method: request.method,
      body: text ? JSON.parse(text) : undefined,
      headers: request.headers
    });
    const next = responses.shift();
    if (next === undefined) {
      throw new Error('no response queued');
    }
    if (next instanceof Error) {
      throw next;
    }
    return typeof next === 'function' ? next() : next;
  };
  const serverSettings = ServerConnection.makeSettings({
    baseUrl: 'http://localhost:8888/lab-base/',
    fetch: fetchImpl as any,
    token: 'secret-token'
  });
  return { calls, api: new CookbookAPI({ serverSettings }) };
}

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json' }
  });
}

describe('CookbookAPI', () => {
  it('builds urls under the server base url and the cookbook namespace', () => {
    const { api } = fakeServer();
    expect(api.url('status')).toBe(
      'http://localhost:8888/lab-base/cookbook/status'
    );
    expect(api.url('models', { search: 'bert base', limit: 5, task: '' })).toBe(
      'http://localhost:8888/lab-base/cookbook/models?search=bert%20base&limit=5'
    );
  });

  it('gets the status', async () => {
    const status = {
      version: '0.1.0',
      providers: [
        {
          name: 'offline',
          available: true,
          default_model: null,
          configured: true
        }
      ],
      default_provider: 'offline',
      api_key_configured: false
    };
    const { api, calls } = fakeServer(json(status));
    await expect(api.status()).resolves.toEqual(status);
    expect(calls[0].method).toBe('GET');
    expect(calls[0].url).toBe('http://localhost:8888/lab-base/cookbook/status');
  });

  it('sends the auth token with every request', async () => {
    const { api, calls } = fakeServer(json({ repos: [] }));
    await api.listRepos();
    expect(calls[0].headers.get('Authorization')).toBe('token secret-token');
  });

  it('posts the source and ref to ingest a repository', async () => {
    const summary = { id: 'r1', source: 'https://github.com/o/r', name: 'r' };
    const { api, calls } = fakeServer(json(summary, 201));
    await expect(api.ingest('https://github.com/o/r', 'main')).resolves.toEqual(
      summary
    );
    expect(calls[0].method).toBe('POST');
    expect(calls[0].url).toBe('http://localhost:8888/lab-base/cookbook/repos');
    expect(calls[0].body).toEqual({
      source: 'https://github.com/o/r',
      ref: 'main'
    });
    expect(calls[0].headers.get('Content-Type')).toBe('application/json');
  });

  it('omits an empty ref when ingesting', async () => {
    const { api, calls } = fakeServer(json({ id: 'r1' }, 201));
    await api.ingest('examples/repo');
    expect(calls[0].body).toEqual({ source: 'examples/repo' });
  });

  it('shows the server message of an error body', async () => {
    const { api } = fakeServer(
      json({ code: 'not_found', message: 'No such folder: nope' }, 404)
    );
    const error = await api.ingest('nope').catch(e => e);
    expect(error).toBeInstanceOf(CookbookAPIError);
    expect(error.status).toBe(404);
    expect(error.code).toBe('not_found');
    expect(errorMessage(error)).toBe('No such folder: nope');
  });

  it('falls back to the status text when an error has no JSON body', async () => {
    const { api } = fakeServer(
      new Response('', { status: 502, statusText: 'Bad Gateway' })
    );
    const error = await api.status().catch(e => e);
    expect(error.status).toBe(502);
    expect(error.code).toBe('http_502');
    expect(error.message).toBe('Bad Gateway');
    expect(isTransientError(error)).toBe(true);
  });

  it('turns network failures into a transient error with status 0', async () => {
    const { api } = fakeServer(new TypeError('Failed to fetch'));
    const error = await api.status().catch(e => e);
    expect(error).toBeInstanceOf(CookbookAPIError);
    expect(error.status).toBe(0);
    expect(isTransientError(error)).toBe(true);
  });

  it('does not retry client errors', () => {
    expect(isTransientError(new CookbookAPIError(400, 'bad', 'bad'))).toBe(
      false
    );
    expect(isTransientError(new CookbookAPIError(404, 'missing', 'x'))).toBe(
      false
    );
    expect(isTransientError(new CookbookAPIError(503, 'busy', 'x'))).toBe(true);
  });

  it('encodes model ids as owner/name path segments', async () => {
    const { api, calls } = fakeServer(
      json({ id: 'google-bert/bert-base-uncased' })
    );
    await api.getModel('google-bert/bert-base-uncased');
    expect(calls[0].url).toBe(
      'http://localhost:8888/lab-base/cookbook/models/google-bert/bert-base-uncased'
    );
  });

  it('searches models with the query parameters', async () => {
    const models = [{ id: 'a/b', downloads: 10, likes: 1 }];
    const { api, calls } = fakeServer(json({ models }));
    await expect(
      api.searchModels({ search: 'sentiment', limit: 10 })
    ).resolves.toEqual(models);
    expect(calls[0].url).toBe(
      'http://localhost:8888/lab-base/cookbook/models?search=sentiment&limit=10'
    );
  });

  it('reads repository files with the path as a query parameter', async () => {
    const { api, calls } = fakeServer(
      json({ path: 'src/a b.py', content: 'x' })
    );
    await api.getRepoFile('r1', 'src/a b.py');
    expect(calls[0].url).toBe(
      'http://localhost:8888/lab-base/cookbook/repos/r1/files?path=src%2Fa%20b.py'
    );
  });

  it('starts a generation and returns its id', async () => {
    const { api, calls } = fakeServer(json({ id: 'g1' }, 202));
    const request = {
      repo_id: 'r1',
      prompt: 'classify reviews',
      template: 'quickstart',
      complexity: 'basic' as const,
      kernel_id: 'k1'
    };
    await expect(api.startGeneration(request)).resolves.toEqual({ id: 'g1' });
    expect(calls[0].method).toBe('POST');
    expect(calls[0].url).toBe(
      'http://localhost:8888/lab-base/cookbook/generations'
    );
    expect(calls[0].body).toEqual(request);
  });

  it('sends the secrets the kernel may see and the trust with a generation', async () => {
    const { api, calls } = fakeServer(json({ id: 'g1' }, 202));
    const request = {
      repo_id: 'r1',
      prompt: 'classify reviews',
      template: 'quickstart',
      complexity: 'basic' as const,
      secrets: ['HF_TOKEN'],
      keep_secrets: true,
      trust: false
    };
    await api.startGeneration(request);
    expect(calls[0].body).toEqual(request);
  });

  it('ingests and trusts at once when asked', async () => {
    const { api, calls } = fakeServer(json({ id: 'r1', trusted: true }, 201));
    await api.ingest('examples/repo', undefined, undefined, true);
    expect(calls[0].body).toEqual({ source: 'examples/repo', trust: true });
  });

  describe('trust', () => {
    it('trusts a repository with a PUT to its trust', async () => {
      const summary = {
        id: 'r1',
        source: 'examples/repo',
        name: 'repo',
        trusted: true,
        trusted_at: 1795255054.5
      };
      const { api, calls } = fakeServer(json(summary));
      await expect(api.trustRepo('r1', true)).resolves.toEqual(summary);
      expect(calls[0].method).toBe('PUT');
      expect(calls[0].url).toBe(
        'http://localhost:8888/lab-base/cookbook/repos/r1/trust'
      );
      expect(calls[0].body).toEqual({ trusted: true });
    });

    it('stops trusting a repository', async () => {
      const { api, calls } = fakeServer(
        json({ id: 'r 1', trusted: false, trusted_at: null })
      );
      const summary = await api.trustRepo('r 1', false);
      expect(summary.trusted).toBe(false);
      expect(calls[0].url).toBe(
        'http://localhost:8888/lab-base/cookbook/repos/r%201/trust'
      );
      expect(calls[0].body).toEqual({ trusted: false });
    });

    it("rejects with the server's message for an unknown repository", async () => {
      const { api } = fakeServer(
        json({ code: 'not_found', message: 'No repository r9.' }, 404)
      );
      const error = await api.trustRepo('r9', true).catch(e => e);
      expect(error).toBeInstanceOf(CookbookAPIError);
      expect(error.status).toBe(404);
      expect(error.message).toBe('No repository r9.');
    });
  });

  describe('approvals', () => {
    const URL =
      'http://localhost:8888/lab-base/cookbook/generations/g1/approvals/a1';

    it('answers an approval with a POST', async () => {
      const { api, calls } = fakeServer(
        json({ approval_id: 'a1', approved: false, trusted: false })
      );
      await api.answerApproval('g1', 'a1', false);
      expect(calls[0].method).toBe('POST');
      expect(calls[0].url).toBe(URL);
      expect(calls[0].body).toEqual({ approved: false });
    });

    it('trusts the repository and runs the cell', async () => {
      const answer = { approval_id: 'a1', approved: true, trusted: true };
      const { api, calls } = fakeServer(json(answer));
      await expect(api.answerApproval('g1', 'a1', true, true)).resolves.toEqual(
        answer
      );
      expect(calls[0].body).toEqual({ approved: true, trust: true });
    });

    it('never sends trust with a skip (the server refuses it)', async () => {
      const { api, calls } = fakeServer();
      await expect(api.answerApproval('g1', 'a1', false, true)).rejects.toThrow(
        'Trusting a repository goes with running its code.'
      );
      expect(calls).toHaveLength(0);
    });
  });

  it('long-polls events after a sequence number', async () => {
    const page = {
      events: [{ seq: 4, type: 'status', data: {}, ts: 1 }],
      done: false
    };
    const { api, calls } = fakeServer(json(page));
    await expect(api.events('g1', 3, 25)).resolves.toEqual(page);
    expect(calls[0].url).toBe(
      'http://localhost:8888/lab-base/cookbook/generations/g1/events?after=3&timeout=25'
    );
  });

  it('cancels a generation with a POST', async () => {
    const { api, calls } = fakeServer(json({ id: 'g1', status: 'cancelled' }));
    await api.cancelGeneration('g1');
    expect(calls[0].method).toBe('POST');
    expect(calls[0].url).toBe(
      'http://localhost:8888/lab-base/cookbook/generations/g1/cancel'
    );
  });

  it('unwraps list endpoints', async () => {
    const { api } = fakeServer(
      json({ recipes: [{ id: 'quickstart', title: 'Quickstart' }] }),
      json({ generations: [{ id: 'g1', status: 'finished' }] }),
      json({ secrets: [{ name: 'ANTHROPIC_API_KEY', hint: 'sk-…abcd' }] })
    );
    expect(await api.listRecipes()).toEqual({
      recipes: [{ id: 'quickstart', title: 'Quickstart' }],
      errors: []
    });
    expect(await api.listGenerations()).toEqual([
      { id: 'g1', status: 'finished' }
    ]);
    expect(await api.listSecrets()).toEqual([
      { name: 'ANTHROPIC_API_KEY', hint: 'sk-…abcd' }
    ]);
  });

  describe('secrets', () => {
    const BASE = 'http://localhost:8888/lab-base/cookbook/secrets';

    it('lists names, hints and times', async () => {
      const secrets = [
        { name: 'HF_TOKEN', hint: '…WXYZ', updated_at: 1795255054.5 }
      ];
      const { api, calls } = fakeServer(json({ secrets }));
      await expect(api.listSecrets()).resolves.toEqual(secrets);
      expect(calls[0].method).toBe('GET');
      expect(calls[0].url).toBe(BASE);
    });

    it('lists nothing when the answer has no secrets', async () => {
      const { api } = fakeServer(json({}));
      await expect(api.listSecrets()).resolves.toEqual([]);
    });

    it('puts the value in the body of a PUT to the name', async () => {
      const { api, calls } = fakeServer(
        json({ name: 'OPENAI_API_KEY', hint: '…abcd' })
      );
      await expect(
        api.setSecret('OPENAI_API_KEY', 'sk-0123456789abcdef')
      ).resolves.toEqual({ name: 'OPENAI_API_KEY', hint: '…abcd' });
      expect(calls[0].method).toBe('PUT');
      expect(calls[0].url).toBe(`${BASE}/OPENAI_API_KEY`);
      expect(calls[0].body).toEqual({ value: 'sk-0123456789abcdef' });
      expect(calls[0].headers.get('Content-Type')).toBe('application/json');
    });

    it('never puts the value in the url', async () => {
      const { api, calls } = fakeServer(json({ name: 'A', hint: '…' }));
      await api.setSecret('A', 'value-with?query&chars');
      expect(calls[0].url).not.toContain('value-with');
    });

    it('encodes the name as one path segment', async () => {
      const { api, calls } = fakeServer(
        json({ code: 'bad_request', message: 'bad name' }, 400)
      );
      await api.setSecret('../status', 'x').catch(() => undefined);
      expect(calls[0].url).toBe(`${BASE}/..%2Fstatus`);
    });

    it('deletes by name and accepts an empty 204', async () => {
      const { api, calls } = fakeServer(new Response(null, { status: 204 }));
      await expect(api.deleteSecret('HF_TOKEN')).resolves.toBeUndefined();
      expect(calls[0].method).toBe('DELETE');
      expect(calls[0].url).toBe(`${BASE}/HF_TOKEN`);
      expect(calls[0].body).toBeUndefined();
    });

    it("rejects with the server's code and message", async () => {
      const { api } = fakeServer(
        json(
          { code: 'bad_request', message: 'A secret needs a non-empty value.' },
          400
        )
      );
      const error = await api.setSecret('HF_TOKEN', '   ').catch(e => e);
      expect(error).toBeInstanceOf(CookbookAPIError);
      expect(error.status).toBe(400);
      expect(error.code).toBe('bad_request');
      expect(errorMessage(error)).toBe('A secret needs a non-empty value.');
      expect(isTransientError(error)).toBe(false);
    });

    it('reports a missing secret as a 404 on delete', async () => {
      const { api } = fakeServer(
        json({ code: 'not_found', message: 'No secret named HF_TOKEN.' }, 404)
      );
      const error = await api.deleteSecret('HF_TOKEN').catch(e => e);
      expect(error.status).toBe(404);
      expect(error.message).toBe('No secret named HF_TOKEN.');
    });

    it('keeps the value out of a network error', async () => {
      const { api } = fakeServer(new TypeError('Failed to fetch'));
      const error = await api
        .setSecret('HF_TOKEN', 'hf_0123456789abcdefSECRET')
        .catch(e => e);
      expect(error.status).toBe(0);
      expect(String(error.message)).not.toContain('SECRET');
    });
  });

  it('gives the download url of a generation notebook', () => {
    const { api } = fakeServer();
    expect(api.notebookUrl('g 1')).toBe(
      'http://localhost:8888/lab-base/cookbook/generations/g%201/notebook'
    );
  });
});
