/**
 * Saves a generation's validated notebook (.ipynb) through the browser,
 * with the server's auth headers (a plain link would miss a token).
 */
import { ServerConnection } from '@jupyterlab/services';

import { CookbookAPI, CookbookAPIError } from './api';

export function filenameFrom(
  disposition: string | null,
  fallback: string
): string {
  const match = disposition?.match(/filename\*?=(?:UTF-8'')?"?([^";]+)"?/i);
  const name = match ? decodeURIComponent(match[1]) : fallback;
  // Never let a header smuggle a path in.
  return name.replace(/[\\/]/g, '_');
}

export async function downloadNotebook(
  api: CookbookAPI,
  generationId: string,
  outputs?: 'keep' | 'clear'
): Promise<string> {
  const response = await ServerConnection.makeRequest(
    api.notebookUrl(generationId, outputs),
    { method: 'GET' },
    api.serverSettings
  );
  if (!response.ok) {
    let message = response.statusText || `HTTP ${response.status}`;
    try {
      const body = await response.json();
      message = body?.message ?? message;
    } catch {
      /* not JSON */
    }
    throw new CookbookAPIError(response.status, 'download_failed', message);
  }
  const blob = await response.blob();
  const name = filenameFrom(
    response.headers.get('Content-Disposition'),
    `cookbook-${generationId.slice(0, 8)}.ipynb`
  );
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  link.style.display = 'none';
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  return name;
}
