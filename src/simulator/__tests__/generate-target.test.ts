/**
 * `npm run generate` refuses a target it should not write to in one line naming it: a folder
 * that does not exist (never created behind the user's back), and a PostgreSQL server that
 * cannot be reached (no stack trace).
 */
import { describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findProjectRoot } from '../../config';
import { freeLoopbackPort } from '../../util/ports';

const generate = path.join(findProjectRoot(__dirname), 'dist', 'src', 'cli', 'generate.js');

function run(args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [generate, ...args], { env: { ...process.env, DATABASE_URL: '' } }, (error, _stdout, stderr) => {
      resolve({ code: error ? Number(error.code ?? 1) : 0, stderr });
    });
  });
}


describe('generate --db', () => {
  it('refuses a folder that does not exist, and does not create it', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'shelfmark-generate-'));
    try {
      const missing = path.join(dir, 'no-such-folder');
      const { code, stderr } = await run(['--members', '10', '--db', path.join(missing, 'library.db')]);
      expect(code).toBe(1);
      expect(stderr).toBe(`generate: folder ${missing} does not exist; create it first, or give --db a path in an existing folder\n`);
      expect(existsSync(missing)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('says in one line that PostgreSQL cannot be reached', async () => {
    const port = await freeLoopbackPort();
    const { code, stderr } = await run(['--members', '10', '--db', `postgres://nobody:secret@127.0.0.1:${port}/shelfmark`]);
    expect(code).toBe(1);
    expect(stderr).toMatch(new RegExp(`^generate: cannot reach PostgreSQL at postgres://nobody:\\*\\*\\*@127\\.0\\.0\\.1:${port}/shelfmark: .*ECONNREFUSED.*\\n$`));
    expect(stderr.split('\n')).toHaveLength(2);
  });
});
