import http from 'node:http';

/**
 * GET without keeping the connection alive (fetch would), so the server holds no socket of ours
 * when its handles are counted.
 */
export function getJson(url: string): Promise<any> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false, headers: { Connection: 'close' } }, (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (c: string) => (text += c));
        res.once('end', () => resolve(JSON.parse(text)));
      })
      .once('error', reject);
  });
}
