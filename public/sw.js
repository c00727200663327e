// The service worker of the dashboards: shows what the server pushes (title, body, where to go)
// and, on a click, focuses the dashboard if a tab has it open, or opens it.
self.addEventListener('push', (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch {
    data = { title: 'Marketplace', body: event.data ? event.data.text() : '' };
  }
  const url = typeof data.url === 'string' ? data.url : '/';
  event.waitUntil(
    self.registration.showNotification(data.title || 'Marketplace', {
      body: data.body || '',
      tag: data.notificationId ? `n${data.notificationId}` : undefined,
      data: { url, notificationId: data.notificationId },
    }),
  );
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const target = new URL((event.notification.data && event.notification.data.url) || '/', self.location.origin);
  event.waitUntil(
    (async () => {
      const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
      const open = windows.find((w) => new URL(w.url).pathname === target.pathname);
      if (open) return open.focus();
      return self.clients.openWindow(target.href);
    })(),
  );
});
