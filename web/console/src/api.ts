// The console's one way to call llmux: every request carries the signed-in caller's bearer
// credential (an API key, or the access token of a password login, refreshed once on 401).
// Credentials live in sessionStorage: they end with the tab.

export interface Session {
  kind: 'key' | 'password';
  token: string;
  refresh?: string;
}

export interface Me {
  subject: string;
  name: string;
  user_id: number | null;
  key_id: number | null;
  permissions: string[];
  scopes: string[];
  allows: Record<string, boolean>;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const STORAGE_KEY = 'llmux.console.session';

export function loadSession(): Session | null {
  try {
    const raw = sessionStorage.getItem(STORAGE_KEY);
    return raw ? (JSON.parse(raw) as Session) : null;
  } catch {
    return null;
  }
}

export function saveSession(s: Session | null): void {
  if (s) sessionStorage.setItem(STORAGE_KEY, JSON.stringify(s));
  else sessionStorage.removeItem(STORAGE_KEY);
}

// The error message of a failed reply: OpenAI's {error: {message}} or the body text.
async function errorOf(r: Response): Promise<ApiError> {
  const text = await r.text();
  try {
    const body = JSON.parse(text);
    if (body?.error?.message) return new ApiError(r.status, String(body.error.message));
    if (typeof body?.error === 'string') return new ApiError(r.status, body.error);
  } catch {
    /* not JSON */
  }
  return new ApiError(r.status, text.trim() || `${r.status} ${r.statusText}`);
}

async function refresh(s: Session): Promise<boolean> {
  if (s.kind !== 'password' || !s.refresh) return false;
  const r = await fetch('/auth/refresh', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ refresh_token: s.refresh }),
  });
  if (!r.ok) return false;
  const t = await r.json();
  saveSession({ kind: 'password', token: t.access_token, refresh: t.refresh_token });
  return true;
}

// fetch() with the caller's credential; throws ApiError for a reply that is not 2xx.
export async function call(path: string, init: RequestInit = {}): Promise<Response> {
  for (let attempt = 0; ; ++attempt) {
    const s = loadSession();
    const headers = new Headers(init.headers);
    if (s) headers.set('Authorization', `Bearer ${s.token}`);
    if (init.body !== undefined && !headers.has('Content-Type')) headers.set('Content-Type', 'application/json');
    const r = await fetch(path, { ...init, headers });
    if (r.status === 401 && attempt === 0 && s && (await refresh(s))) continue;
    if (!r.ok) throw await errorOf(r);
    return r;
  }
}

export async function getJson<T>(path: string): Promise<T> {
  return (await call(path)).json() as Promise<T>;
}

export async function sendJson<T>(method: string, path: string, body?: unknown): Promise<T> {
  const init: RequestInit = { method };
  if (body !== undefined) init.body = JSON.stringify(body);
  return (await call(path, init)).json() as Promise<T>;
}

export async function loginWithPassword(username: string, password: string): Promise<void> {
  const r = await fetch('/auth/login', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  if (!r.ok) throw await errorOf(r);
  const t = await r.json();
  saveSession({ kind: 'password', token: t.access_token, refresh: t.refresh_token });
}

export function loginWithKey(key: string): void {
  saveSession({ kind: 'key', token: key.trim() });
}

export async function logout(): Promise<void> {
  const s = loadSession();
  saveSession(null);
  if (s?.kind === 'password' && s.refresh) {
    await fetch('/auth/logout', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ refresh_token: s.refresh }),
    }).catch(() => undefined);
  }
}

export function me(): Promise<Me> {
  return getJson<Me>('/admin/v1/me');
}

// A list reply of the admin API.
export interface List<T> {
  data: T[];
  has_more?: boolean;
  next_cursor?: number | null;
}
