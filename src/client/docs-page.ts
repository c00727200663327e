/*
 * /docs: Swagger UI renders the OpenAPI document; the events of the AsyncAPI document are listed
 * below it, each with its payload schema. Swagger UI's bundle is a classic script (a global).
 */

declare const SwaggerUIBundle: (o: { url: string; dom_id: string; deepLinking?: boolean }) => unknown;

interface AsyncApiDoc {
  info: { description?: string };
  components: {
    messages: Record<string, { name: string; summary?: string; payload: { $ref: string } }>;
    schemas: Record<string, unknown>;
  };
}

SwaggerUIBundle({ url: '/api/openapi.json', dom_id: '#swagger-ui', deepLinking: true });

function el<K extends keyof HTMLElementTagNameMap>(tag: K, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  return e;
}

async function listEvents(): Promise<void> {
  const list = document.getElementById('event-list')!;
  const doc = (await (await fetch('/api/asyncapi.json')).json()) as AsyncApiDoc;
  document.getElementById('events-intro')!.textContent = doc.info.description ?? '';
  list.textContent = '';
  for (const m of Object.values(doc.components.messages)) {
    const item = el('details');
    item.className = 'event';
    item.append(el('summary', m.name));
    if (m.summary) item.append(el('p', m.summary));
    const name = m.payload.$ref.split('/').pop()!;
    item.append(el('pre', JSON.stringify(doc.components.schemas[name], null, 2)));
    list.append(item);
  }
}

listEvents().catch((err: unknown) => {
  document.getElementById('event-list')!.textContent = `Could not load /api/asyncapi.json: ${String(err)}`;
});
