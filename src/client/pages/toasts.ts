import { h } from './dom.js';

export interface ToastInput {
  title: string;
  body?: string;
  kind?: 'info' | 'success' | 'error';
  /** The event type behind it, for styling and for tests to find it. */
  type?: string;
  /** A link to show under the text (e.g. a checkout a popup blocker stopped). */
  link?: { href: string; text: string };
}

export interface Toaster {
  show(t: ToastInput): HTMLElement;
}

const SHOWN_MS = 8_000;
const ERROR_SHOWN_MS = 12_000;
const MAX_VISIBLE = 4;

/**
 * Toasts in a polite live region (errors in an assertive one), so screen readers announce them
 * without stealing focus. Each can be dismissed by its button; hovering or focusing one keeps it.
 */
export function createToaster(polite: HTMLElement, assertive: HTMLElement): Toaster {
  return {
    show(t) {
      const region = t.kind === 'error' ? assertive : polite;
      const close = h('button', { type: 'button', class: 'toast-close', 'aria-label': 'Dismiss notification' }, '×');
      const el = h(
        'div',
        { class: `toast toast-${t.kind ?? 'info'}`, 'data-toast-type': t.type ?? t.kind ?? 'info' },
        h('p', { class: 'toast-title' }, t.title),
        t.body ? h('p', { class: 'toast-body' }, t.body) : null,
        t.link ? h('a', { href: t.link.href, target: '_blank', rel: 'noopener' }, t.link.text) : null,
        close,
      );
      let timer = 0;
      const remove = () => {
        window.clearTimeout(timer);
        el.remove();
      };
      const arm = () => {
        window.clearTimeout(timer);
        timer = window.setTimeout(remove, t.kind === 'error' ? ERROR_SHOWN_MS : SHOWN_MS);
      };
      close.addEventListener('click', remove);
      el.addEventListener('mouseenter', () => window.clearTimeout(timer));
      el.addEventListener('mouseleave', arm);
      el.addEventListener('focusin', () => window.clearTimeout(timer));
      el.addEventListener('focusout', arm);
      region.append(el);
      while (polite.children.length + assertive.children.length > MAX_VISIBLE) {
        (polite.firstElementChild ?? assertive.firstElementChild)?.remove();
      }
      arm();
      return el;
    },
  };
}
