// The shapes of the model admin API (docs/registry.md, gateway/admin/model_routes.cc).
export interface Version {
  model: string;
  digest: string; // "sha256:<hex>"
  path: string;
  size_bytes: number;
  format: string;
  architecture: string;
  created_at: number; // unix seconds
  created_by: string;
}

export interface Tag {
  name: string;
  digest: string;
  updated_at: number;
  updated_by: string;
}

export type Parameters = Record<string, number | string>;

export interface RegistryModel {
  name: string;
  created_at: number;
  updated_at: number;
  parameters: Parameters;
  versions: Version[];
  tags: Tag[];
}

export interface Change {
  id: number;
  time_ms: number;
  actor: string;
  actor_name: string;
  model: string;
  kind: string;
  target: string;
  before: unknown;
  after: unknown;
  rollback_of: number;
  // A tag move or its rollback: each served name that refers to the tag, and how its update went.
  updated?: ServedUpdate[];
}

export interface ServedUpdate {
  name: string;
  path: string;
  ok: boolean;
  error?: string;
  deploy?: { id: string; served: string; state: string }; // a gateway's rollout
}

export interface ServedModel {
  name: string;
  path: string;
  state: string; // downloading (a pull running here), loading, loaded, idle, unloading, failed
  reason?: string;
  source?: string; // downloading: the URL or path being pulled, its progress in bytes
  completed?: number;
  total?: number;
  pinned: boolean;
  keep_alive_s: number | null;
  in_flight: number;
  memory_bytes: number;
  loaded_at: number;
  last_used: number;
}

// One line of a pull's NDJSON progress (Ollama's /api/pull shape), or its last line.
export interface PullLine {
  status?: string;
  digest?: string;
  total?: number;
  completed?: number;
  error?: string;
  path?: string;
  name?: string;
}

export const shortDigest = (d: string) => d.replace(/^sha256:/, '').slice(0, 12);

// "model:tag" for every tag of every model: what load and hot update take.
export const refsOf = (models: RegistryModel[]) => models.flatMap((m) => m.tags.map((t) => `${m.name}:${t.name}`));
