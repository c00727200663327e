import { byId } from './dom.js';

/** Two dashboards in one window, for watching one booking from both sides. */
const q = new URLSearchParams(location.search);
const ID = /^[A-Za-z0-9._:@-]{1,128}$/;
const client = q.get('client') ?? 'demo-client-thandi';
const provider = q.get('provider') ?? 'demo-provider-sipho';
if (ID.test(client) && ID.test(provider)) {
  byId<HTMLIFrameElement>('client-frame').src = `/client.html?as=${encodeURIComponent(client)}`;
  byId<HTMLIFrameElement>('provider-frame').src = `/provider.html?as=${encodeURIComponent(provider)}`;
}
