// What every page of the console is: a path, a title, the permission it needs (so that the
// navigation shows only what the caller may use) and a render function.
import type { Me } from './api';
import { append, clear, h, notice, type Child } from './dom';

export interface Page {
  path: string; // under /console/, e.g. "logs"
  title: string;
  // Whether the signed-in caller may use the page (from GET /admin/v1/me).
  allowed: (me: Me) => boolean;
  // Fills `root`; returns a function that stops timers and streams, if any.
  render: (root: HTMLElement, me: Me) => void | (() => void);
}

export const needs =
  (permission: string) =>
  (me: Me): boolean =>
    me.allows[permission] === true;

export const anyCaller = (): boolean => true;

// The scaffolding of a page that lists things and changes them: a status line for errors, the
// list (filled by `render`, again on each `reload`) and `act`, which runs a change, clears the
// status and reloads, or shows why the change failed.
export interface ListView {
  status: HTMLElement;
  list: HTMLElement;
  reload: () => Promise<void>;
  act: (change: () => Promise<unknown>) => Promise<void>;
  fail: (e: unknown) => void;
}

export function listView(render: () => Promise<Child | Child[]>): ListView {
  const status = h('div', {});
  const list = h('div', {});
  const fail = (e: unknown) => status.replaceChildren(notice((e as Error).message, 'error'));
  const reload = async () => {
    try {
      const content = await render();
      clear(list);
      append(list, [content]);
    } catch (e) {
      fail(e);
    }
  };
  const act = async (change: () => Promise<unknown>) => {
    try {
      await change();
      status.replaceChildren();
      await reload();
    } catch (e) {
      fail(e);
    }
  };
  return { status, list, reload, act, fail };
}
