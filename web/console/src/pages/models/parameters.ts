// The per-model defaults editor (PUT /admin/v1/registry/parameters replaces the whole set): one
// input per parameter the registry knows; an empty input leaves the parameter unset. Read-only
// for a caller without models:manage.
import { h } from '../../dom';
import type { Parameters } from './types';

type Kind = 'int' | 'number' | 'text' | 'long';
const FIELDS: [string, Kind][] = [
  ['temperature', 'number'],
  ['top_p', 'number'],
  ['top_k', 'int'],
  ['min_p', 'number'],
  ['max_tokens', 'int'],
  ['seed', 'int'],
  ['context_length', 'int'],
  ['kv_type', 'text'],
  ['kv_budget_mb', 'int'],
  ['max_running', 'int'],
  ['system_prompt', 'long'],
  ['chat_template', 'long'],
];

export function parametersEditor(
  current: Parameters,
  canEdit: boolean,
  save: (p: Parameters) => Promise<unknown>,
): HTMLElement {
  const inputs = new Map<string, HTMLInputElement | HTMLTextAreaElement>();
  const fields = FIELDS.map(([name, kind]) => {
    const value = current[name] === undefined ? '' : String(current[name]);
    const attrs = { 'data-testid': `param-${name}`, value, disabled: !canEdit };
    const input =
      kind === 'long'
        ? h('textarea', { ...attrs, rows: 2, cols: 40 })
        : h('input', { ...attrs, size: 10, type: kind === 'text' ? 'text' : 'number', step: kind === 'int' ? '1' : 'any' });
    inputs.set(name, input);
    return h('label', {}, name, input);
  });
  const collect = (): Parameters => {
    const out: Parameters = {};
    for (const [name, kind] of FIELDS) {
      const raw = inputs.get(name)!.value;
      if (raw.trim() === '') continue;
      out[name] = kind === 'int' || kind === 'number' ? Number(raw) : raw;
    }
    return out;
  };
  return h(
    'form',
    {
      class: 'inline',
      'data-testid': 'params',
      onsubmit: (e: Event) => {
        e.preventDefault();
        void save(collect());
      },
    },
    fields,
    canEdit && h('button', { type: 'submit', 'data-testid': 'params-save' }, 'Save parameters'),
  );
}
