/**
 * The only module that talks to the Jupyter server: `/labtrack/...` through
 * `ServerConnection.makeRequest`, which adds Jupyter's token and XSRF header.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/** An error answered by the server extension or the tracking server, with its message. */
export class LabtrackError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string
  ) {
    super(message);
    this.name = 'LabtrackError';
  }
}

type Query = Record<string, string | number | boolean | undefined | null>;

function withQuery(path: string, query?: Query): string {
  if (!query) {
    return path;
  }
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== '') {
      params.set(key, String(value));
    }
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

/** Turn a non-2xx response into a LabtrackError carrying the server's own message. */
async function errorFrom(response: Response): Promise<LabtrackError> {
  let message = `${response.status} ${response.statusText}`;
  let code = 'http_error';
  try {
    const body = await response.json();
    if (body && body.error && typeof body.error.message === 'string') {
      message = body.error.message;
      code = body.error.code || code;
    } else if (body && typeof body.message === 'string') {
      message = body.message;
    }
  } catch {
    // Not JSON: keep the status line.
  }
  return new LabtrackError(message, response.status, code);
}

/** Fetch `/labtrack/<path>` from the Jupyter server; returns the raw Response when ok. */
export async function requestRaw(
  path: string,
  init: RequestInit = {},
  query?: Query
): Promise<Response> {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(settings.baseUrl, 'labtrack', withQuery(path, query));
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new LabtrackError(
      `Could not reach the Jupyter server: ${String(error)}`,
      0,
      'network_error'
    );
  }
  if (!response.ok) {
    throw await errorFrom(response);
  }
  return response;
}

/** Call a labtrack endpoint of the server extension and parse its JSON answer. */
export async function requestAPI<T>(
  path: string,
  init: RequestInit = {},
  query?: Query
): Promise<T> {
  const response = await requestRaw(path, init, query);
  if (response.status === 204) {
    return undefined as unknown as T;
  }
  const text = await response.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

/** GET a tracking-server endpoint (`/api/v1/<path>`) through the proxy. */
export function apiGet<T>(path: string, query?: Query): Promise<T> {
  return requestAPI<T>(`api/v1/${path}`, { method: 'GET' }, query);
}

/** POST JSON to a labtrack endpoint. */
export function postJSON<T>(path: string, body: unknown): Promise<T> {
  return requestAPI<T>(path, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'Content-Type': 'application/json' }
  });
}
