// The models this caller may use (GET /v1/models). Loading and unloading have no admin HTTP
// route yet (only the MCP tools load_model / unload_model), so this page only lists.
import { getJson, type List } from '../api';
import { h, notice, table } from '../dom';
import { anyCaller, type Page } from '../page';

interface Model {
  id: string;
  owned_by?: string;
  created?: number;
}

export const modelsPage: Page = {
  path: 'models',
  title: 'Models',
  allowed: anyCaller,
  render(root) {
    getJson<List<Model>>('/v1/models')
      .then((list) =>
        root.append(
          table(
            list.data,
            [
              ['Model', (m) => m.id],
              ['Owned by', (m) => m.owned_by ?? ''],
              ['Created', (m) => (m.created ? new Date(m.created * 1000).toISOString() : '')],
            ],
            'models',
          ),
        ),
      )
      .catch((e) => root.append(notice(e.message, 'error')));
    root.append(h('p', { class: 'hint' }, 'Models are loaded with `llmux serve --model` or the MCP tool load_model.'));
  },
};
