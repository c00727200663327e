import fs from 'node:fs';
import path from 'node:path';

/** The repository root, found by walking up from this file (src/ under tsx, dist/src/ compiled). */
export const PACKAGE_ROOT: string = (() => {
  for (let dir = __dirname; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
  }
  return process.cwd();
})();

export const PACKAGE_VERSION: string = (JSON.parse(fs.readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

export const PUBLIC_DIR = path.join(PACKAGE_ROOT, 'public');
