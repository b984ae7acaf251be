// What every page of the console is: a path, a title, the permission it needs (so that the
// navigation shows only what the caller may use) and a render function.
import type { Me } from './api';

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
