// A chat playground: POST /v1/chat/completions with stream: true, the SSE reply parsed here
// and shown as it arrives.
import { call, getJson, type List } from '../api';
import { h, notice } from '../dom';
import { anyCaller, type Page } from '../page';
import { streamChat } from '../sse';

interface Message {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export const playgroundPage: Page = {
  path: 'playground',
  title: 'Playground',
  allowed: anyCaller,
  render(root) {
    const model = h('select', { 'data-testid': 'chat-model' });
    const system = h('input', { placeholder: 'System prompt (optional)', 'data-testid': 'chat-system' });
    const maxTokens = h('input', { type: 'number', min: 1, max: 4096, value: 64, 'data-testid': 'chat-max-tokens' });
    const temperature = h('input', { type: 'number', min: 0, max: 2, step: 0.1, value: 0.7, 'data-testid': 'chat-temperature' });
    const input = h('textarea', { rows: 3, placeholder: 'Say something…', 'data-testid': 'chat-input' });
    const transcript = h('div', { class: 'transcript', 'data-testid': 'chat-transcript' });
    const status = h('div', {});
    const send = h('button', { type: 'submit', 'data-testid': 'chat-send' }, 'Send');
    const stop = h('button', { type: 'button', disabled: true }, 'Stop');
    const history: Message[] = [];
    let abort: AbortController | null = null;

    getJson<List<{ id: string }>>('/v1/models')
      .then((list) => {
        for (const m of list.data) model.append(h('option', { value: m.id }, m.id));
        if (list.data.length === 0) status.replaceChildren(notice('No model may be used by this caller.', 'error'));
      })
      .catch((e) => status.replaceChildren(notice(e.message, 'error')));

    const bubble = (role: string, text: string) => {
      const body = h('div', { class: 'text' }, text);
      transcript.append(h('div', { class: `msg ${role}`, 'data-role': role }, h('b', {}, role), body));
      return body;
    };

    stop.addEventListener('click', () => abort?.abort());
    const form = h(
      'form',
      {
        class: 'chat',
        onsubmit: async (e: Event) => {
          e.preventDefault();
          const text = input.value.trim();
          if (!text || !model.value) return;
          input.value = '';
          history.push({ role: 'user', content: text });
          bubble('user', text);
          const out = bubble('assistant', '');
          out.setAttribute('data-testid', 'chat-reply');
          const messages: Message[] = system.value ? [{ role: 'system', content: system.value }, ...history] : [...history];
          abort = new AbortController();
          send.disabled = true;
          stop.disabled = false;
          status.replaceChildren();
          let reply = '';
          try {
            const r = await call('/v1/chat/completions', {
              method: 'POST',
              body: JSON.stringify({
                model: model.value,
                messages, stream: true,
                max_tokens: Number(maxTokens.value) || 64,
                temperature: Number(temperature.value),
              }),
              signal: abort.signal,
            });
            await streamChat(r, (delta) => {
              reply += delta;
              out.textContent = reply;
              transcript.scrollTop = transcript.scrollHeight;
            });
            out.parentElement?.setAttribute('data-done', 'true');
          } catch (err) {
            status.replaceChildren(notice((err as Error).name === 'AbortError' ? 'Stopped.' : (err as Error).message, 'error'));
          } finally {
            history.push({ role: 'assistant', content: reply });
            send.disabled = false;
            stop.disabled = true;
            abort = null;
          }
        },
      },
      h('div', { class: 'row' }, h('label', {}, 'Model', model), h('label', {}, 'Max tokens', maxTokens), h('label', {}, 'Temperature', temperature)),
      system,
      input,
      h('div', { class: 'row' }, send, stop),
    );
    root.append(transcript, status, form);
    return () => abort?.abort();
  },
};
