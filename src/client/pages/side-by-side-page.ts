import { byId } from './dom.js';
import { demoResetButton } from './demo-reset.js';

/** Two dashboards in one window, for watching one booking from both sides. */
const q = new URLSearchParams(location.search);
const ID = /^[A-Za-z0-9._:@-]{1,128}$/;
const client = q.get('client') ?? 'demo-client-thandi';
const provider = q.get('provider') ?? 'demo-provider-sipho';
const service = q.get('service') ?? 'plumbing';
if (ID.test(client) && ID.test(provider) && ID.test(service)) {
  // The client's form starts on this provider and service, so the first booking lands in the other frame.
  byId<HTMLIFrameElement>('client-frame').src = `/client.html?${new URLSearchParams({ as: client, provider, service })}`;
  byId<HTMLIFrameElement>('provider-frame').src = `/provider.html?${new URLSearchParams({ as: provider })}`;
}
// Both dashboards load again after a reset, so neither shows what was deleted.
byId('demo-reset-slot').replaceChildren(
  demoResetButton(() => {
    for (const id of ['client-frame', 'provider-frame']) byId<HTMLIFrameElement>(id).contentWindow?.location.reload();
  }),
);
