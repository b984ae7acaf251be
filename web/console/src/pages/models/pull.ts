// The pull form: POST /admin/v1/models/pull streams NDJSON progress; the bar moves as the lines
// arrive (the body is read incrementally). With a name ("model:tag") the file is registered.
import { call } from '../../api';
import { h, notice } from '../../dom';
import { readJsonLines } from '../../sse';
import type { PullLine } from './types';

export function pullForm(onPulled: () => void): HTMLElement {
  const url = h('input', { required: true, size: 48, placeholder: 'https://…/model.gguf', 'data-testid': 'pull-url' });
  const name = h('input', { placeholder: 'model:tag', 'data-testid': 'pull-name' });
  const sha = h('input', { size: 20, placeholder: 'sha256 (optional)', 'data-testid': 'pull-sha256' });
  const bar = h('progress', { max: 1, value: 0, 'data-testid': 'pull-progress' });
  const label = h('span', { 'data-testid': 'pull-status' });
  const result = h('div', {});
  const submit = h('button', { type: 'submit', 'data-testid': 'pull-start' }, 'Pull');
  const show = (line: PullLine) => {
    if (line.total) {
      bar.max = line.total;
      bar.value = line.completed ?? 0;
    }
    const pct = line.total ? ` ${Math.floor((100 * (line.completed ?? 0)) / line.total)}%` : '';
    label.textContent = `${line.status ?? ''}${pct}`;
  };
  const run = async () => {
    const body: Record<string, string> = { url: url.value.trim() };
    if (name.value.trim()) body.name = name.value.trim();
    if (sha.value.trim()) body.sha256 = sha.value.trim();
    bar.value = 0;
    bar.max = 1;
    result.replaceChildren();
    let last: PullLine = {};
    const response = await call('/admin/v1/models/pull', { method: 'POST', body: JSON.stringify(body) });
    await readJsonLines(response, (value) => {
      last = value as PullLine;
      show(last);
    });
    if (last.error) throw new Error(last.error);
    if (last.status !== 'success') throw new Error('the pull ended without success');
    result.replaceChildren(
      h('p', { class: 'notice', 'data-testid': 'pull-done' }, `Pulled ${last.digest}`, last.name ? ` as ${last.name}` : ''),
    );
    onPulled();
  };
  const form = h(
    'form',
    {
      class: 'inline',
      onsubmit: (e: Event) => {
        e.preventDefault();
        submit.disabled = true;
        run()
          .catch((err) => result.replaceChildren(notice((err as Error).message, 'error')))
          .finally(() => (submit.disabled = false));
      },
    },
    h('label', {}, 'URL', url),
    h('label', {}, 'Register as', name),
    h('label', {}, 'Digest', sha),
    submit,
  );
  return h('div', { class: 'pull', 'data-testid': 'pull' }, h('h2', {}, 'Pull a model'), form, h('div', { class: 'row' }, bar, label), result);
}
