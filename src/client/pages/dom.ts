/*
 * A tiny element builder. Text always goes in as text nodes, never as HTML, so names, notes and
 * notification bodies from the server cannot inject markup.
 */

type Child = Node | string | number | null | undefined | false;
type AttrValue = string | number | boolean | null | undefined | ((ev: Event) => void);

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, AttrValue> = {},
  ...children: Array<Child | Child[]>
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (typeof value === 'function') el.addEventListener(key.replace(/^on/, '').toLowerCase(), value);
    else if (key === 'class') el.className = String(value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

export function append(el: Element, children: Array<Child | Child[]>): void {
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`page is missing #${id}`);
  return el as T;
}

/**
 * Replaces a list's children with `items`, keeping existing elements whose key and version did not
 * change, so focus and scroll survive an update and only what changed is redrawn.
 */
export function reconcileList(list: HTMLElement, items: Array<{ key: string; version: string; render: () => HTMLElement }>): void {
  const existing = new Map<string, HTMLElement>();
  for (const child of Array.from(list.children) as HTMLElement[]) {
    if (child.dataset.key) existing.set(child.dataset.key, child);
  }
  let cursor: ChildNode | null = list.firstChild;
  for (const item of items) {
    let el = existing.get(item.key);
    existing.delete(item.key);
    if (!el || el.dataset.version !== item.version) {
      const fresh = item.render();
      fresh.dataset.key = item.key;
      fresh.dataset.version = item.version;
      if (el) {
        const refocus = focusedAction(el);
        if (cursor === el) cursor = fresh;
        el.replaceWith(fresh);
        if (refocus) fresh.querySelector<HTMLElement>(`[data-action="${refocus}"]`)?.focus();
      }
      el = fresh;
    }
    if (el !== cursor) list.insertBefore(el, cursor);
    cursor = el.nextSibling;
  }
  for (const stale of existing.values()) stale.remove();
}

function focusedAction(el: HTMLElement): string | undefined {
  const active = document.activeElement;
  return active instanceof HTMLElement && el.contains(active) ? active.dataset.action : undefined;
}
