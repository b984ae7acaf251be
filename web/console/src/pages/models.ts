// The models this caller may use (GET /v1/models). The registry and the served models (load,
// unload, hot update) have pages of their own (pages/models/).
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
    root.append(h('p', { class: 'hint' }, 'Operators load, unload and update models on the Served models page.'));
  },
};
