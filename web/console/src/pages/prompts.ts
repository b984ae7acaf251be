// Prompt templates (served to MCP clients as prompts): list, edit as JSON, delete.
import { getJson, sendJson, type List } from '../api';
import { clear, formatTime, h, notice, table } from '../dom';
import { needs, type Page } from '../page';

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
    const list = h('div', {});
    const status = h('div', {});
    const editor = h('textarea', { rows: 10, spellcheck: false, class: 'code', 'data-testid': 'prompt-json' });
    editor.value = JSON.stringify(EXAMPLE, null, 2);
    const act = async (what: () => Promise<unknown>) => {
      try {
        await what();
        status.replaceChildren();
        await load();
      } catch (e) {
        status.replaceChildren(notice((e as Error).message, 'error'));
      }
    };
    const load = async () => {
      try {
        const prompts = await getJson<List<Prompt>>('/admin/v1/prompts');
        clear(list);
        list.append(
          table(
            prompts.data,
            [
              ['Name', (p) => p.name],
              ['Description', (p) => p.description ?? p.title ?? ''],
              ['Arguments', (p) => p.arguments.map((a) => a.name + (a.required ? '*' : '')).join(', ')],
              ['Updated', (p) => [formatTime((p.updated_at ?? 0) * 1000), p.updated_by ? ` by ${p.updated_by}` : '']],
              [
                '',
                (p) => [
                  h(
                    'button',
                    {
                      type: 'button',
                      onclick: () => {
                        const { name, title, description, arguments: args, messages } = p;
                        editor.value = JSON.stringify({ name, title, description, arguments: args, messages }, null, 2);
                      },
                    },
                    'Edit',
                  ),
                  h(
                    'button',
                    {
                      type: 'button',
                      class: 'danger',
                      onclick: () => {
                        if (confirm(`Delete prompt ${p.name}?`))
                          void act(() => sendJson('DELETE', `/admin/v1/prompts?name=${encodeURIComponent(p.name)}`));
                      },
                    },
                    'Delete',
                  ),
                ],
              ],
            ],
            'prompts',
          ),
        );
      } catch (e) {
        status.replaceChildren(notice((e as Error).message, 'error'));
      }
    };
    const form = h(
      'form',
      {
        onsubmit: (e: Event) => {
          e.preventDefault();
          let body: unknown;
          try {
            body = JSON.parse(editor.value);
          } catch (err) {
            status.replaceChildren(notice(`Not JSON: ${(err as Error).message}`, 'error'));
            return;
          }
          void act(() => sendJson('PUT', '/admin/v1/prompts', body));
        },
      },
      editor,
      h('button', { type: 'submit', 'data-testid': 'prompt-save' }, 'Save template'),
    );
    root.append(form, status, list);
    void load();
  },
};
