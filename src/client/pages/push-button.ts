import type { Api } from './api.js';
import { h } from './dom.js';

/** The VAPID public key (base64url) as the bytes `pushManager.subscribe` takes. */
function keyBytes(base64url: string): Uint8Array {
  const b64 = base64url.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (base64url.length % 4)) % 4);
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

/**
 * "Turn on notifications": asks the browser's permission, registers the service worker
 * (/sw.js), subscribes with the server's VAPID key and sends the subscription to the server. The
 * button says what happened; where the browser has no push, it says so and stays disabled.
 */
export function installPushButton(api: Api, after: Element): HTMLButtonElement {
  const button = h('button', { id: 'push-toggle', type: 'button', class: 'link-button' }, 'Turn on notifications');
  after.insertAdjacentElement('afterend', button);
  const say = (text: string, disabled = false) => {
    button.textContent = text;
    button.disabled = disabled;
  };
  if (!('serviceWorker' in navigator) || !('PushManager' in window) || !('Notification' in window)) {
    say('Notifications unavailable in this browser', true);
    return button;
  }
  if (Notification.permission === 'denied') say('Notifications blocked in the browser', true);
  const turnOn = async () => {
    say('Turning on…', true);
    try {
      const permission = await Notification.requestPermission();
      if (permission !== 'granted') return say('Notifications blocked in the browser', true);
      const registration = await navigator.serviceWorker.register('/sw.js');
      const res = await fetch('/api/push/vapid-public-key');
      if (!res.ok) return say('Push is off on this server', true);
      const { publicKey } = (await res.json()) as { publicKey: string };
      const subscription =
        (await registration.pushManager.getSubscription()) ??
        (await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(publicKey) as BufferSource }));
      await api.post('/api/me/push-subscriptions', subscription.toJSON());
      say('Notifications on', true);
    } catch (err) {
      say('Turn on notifications');
      button.title = err instanceof Error ? err.message : String(err);
      button.dataset.error = button.title;
    }
  };
  button.addEventListener('click', () => void turnOn());
  return button;
}
