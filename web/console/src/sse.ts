// A parser of text/event-stream (the WHATWG rules the console needs): feed it decoded text as
// it arrives; it calls `onData` with each event's data once the blank line ending it is seen.
export class SseParser {
  private buffer = '';
  private data: string[] = [];

  constructor(private readonly onData: (data: string) => void) {}

  push(text: string): void {
    this.buffer += text;
    for (;;) {
      const m = /\r\n|\r|\n/.exec(this.buffer);
      // A lone '\r' at the end may be the first half of "\r\n": wait for more.
      if (!m || (m[0] === '\r' && m.index === this.buffer.length - 1)) return;
      const line = this.buffer.slice(0, m.index);
      this.buffer = this.buffer.slice(m.index + m[0].length);
      this.line(line);
    }
  }

  private line(line: string): void {
    if (line === '') {
      if (this.data.length > 0) this.onData(this.data.join('\n'));
      this.data = [];
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.data.push(value);
  }
}

// Streams a chat completion: calls `onDelta` with each piece of content; resolves at [DONE].
export async function streamChat(response: Response, onDelta: (text: string) => void): Promise<void> {
  if (!response.body) throw new Error('the reply has no body');
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let done = false;
  let failure: string | null = null;
  const parser = new SseParser((data) => {
    if (data === '[DONE]') {
      done = true;
      return;
    }
    const chunk = JSON.parse(data);
    if (chunk.error) failure = String(chunk.error.message ?? chunk.error);
    const delta = chunk.choices?.[0]?.delta;
    if (typeof delta?.content === 'string' && delta.content) onDelta(delta.content);
  });
  while (!done) {
    const { value, done: end } = await reader.read();
    if (end) break;
    parser.push(value);
    if (failure) throw new Error(failure);
  }
  if (failure) throw new Error(failure);
}

// Reads a stream of JSON lines (NDJSON: a model pull's progress) as it arrives and calls
// `onLine` with each parsed line. A line longer than 64 KiB is refused (a progress line is tiny).
export async function readJsonLines(response: Response, onLine: (value: unknown) => void): Promise<void> {
  if (!response.body) throw new Error('the reply has no body');
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl).trim();
      buffer = buffer.slice(nl + 1);
      if (line) onLine(JSON.parse(line));
    }
    if (buffer.length > 65536) throw new Error('a progress line is too long');
  }
  if (buffer.trim()) onLine(JSON.parse(buffer));
}
