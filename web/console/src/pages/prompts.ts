// Prompt templates (served to MCP clients as prompts): list, edit as JSON, delete.
import { getJson, sendJson, type List } from '../api';
import { button, dangerButton, formatTime, h, notice, table } from '../dom';
import { listView, needs, type Page } from '../page';

interface Prompt {
  name: string;
  title?: string;
  description?: string;
  arguments: { name: string; description?: string; required?: boolean }[];
  messages: { role: string; text: string }[];
  updated_by?: string;
  updated_at?: number;
}

const EXAMPLE = {
  name: 'summarize',
  description: 'Summarize a text',
  arguments: [{ name: 'text', required: true }],
  messages: [{ role: 'user', text: 'Summarize: {{text}}' }],
};

export const promptsPage: Page = {
  path: 'prompts',
  title: 'Prompt templates',
  allowed: needs('models:manage'),
  render(root) {
    const editor = h('textarea', { rows: 10, spellcheck: false, class: 'code', 'data-testid': 'prompt-json' });
    editor.value = JSON.stringify(EXAMPLE, null, 2);
    const view = listView(async () =>
      table(
        (await getJson<List<Prompt>>('/admin/v1/prompts')).data,
        [
          ['Name', (p) => p.name],
          ['Description', (p) => p.description ?? p.title ?? ''],
          ['Arguments', (p) => p.arguments.map((a) => a.name + (a.required ? '*' : '')).join(', ')],
          ['Updated', (p) => [formatTime((p.updated_at ?? 0) * 1000), p.updated_by ? ` by ${p.updated_by}` : '']],
          [
            '',
            (p) => [
              button('Edit', () => {
                const { name, title, description, arguments: args, messages } = p;
                editor.value = JSON.stringify({ name, title, description, arguments: args, messages }, null, 2);
              }),
              dangerButton('Delete', `Delete prompt ${p.name}?`, () =>
                void view.act(() => sendJson('DELETE', `/admin/v1/prompts?name=${encodeURIComponent(p.name)}`)),
              ),
            ],
          ],
        ],
        'prompts',
      ),
    );
    const form = h(
      'form',
      {
        onsubmit: (e: Event) => {
          e.preventDefault();
          let body: unknown;
          try {
            body = JSON.parse(editor.value);
          } catch (err) {
            view.status.replaceChildren(notice(`Not JSON: ${(err as Error).message}`, 'error'));
            return;
          }
          void view.act(() => sendJson('PUT', '/admin/v1/prompts', body));
        },
      },
      editor,
      h('button', { type: 'submit', 'data-testid': 'prompt-save' }, 'Save template'),
    );
    root.append(form, view.status, view.list);
    void view.reload();
  },
};
