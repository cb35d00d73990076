// Command-line tools: check-config, hash-password, config-schema, generate-jwks, generate-secret and audit verify.
import { randomBytes } from 'node:crypto';
import { AUDIT_VERIFY_USAGE, auditVerify } from './admin/audit-verify.js';
import { processEnv } from './config/env.js';
import { ConfigError } from './config/issues.js';
import { loadConfig } from './config/load.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { configJsonSchema, providerJsonSchema } from './config/json-schema.js';
import { hashPassword } from './connectors/local.js';
import { generateSigningJwks } from './issuer/keys.js';

async function readPassword(): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const chunk of stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  }
  process.stderr.write('Password (not echoed): ');
  stdin.setRawMode(true);
  return new Promise((resolve) => {
    let value = '';
    stdin.on('data', (data: Buffer) => {
      for (const char of data.toString('utf8')) {
        if (char === '\r' || char === '\n') {
          stdin.setRawMode(false);
          stdin.pause();
          process.stderr.write('\n');
          return resolve(value);
        }
        if (char === '\u0003') process.exit(130);
        value = char === '\u007f' ? value.slice(0, -1) : value + char;
      }
    });
  });
}

async function run(command: string | undefined): Promise<number> {
  switch (command) {
    case 'check-config': {
      try {
        const config = await loadConfig({ env: processEnv() });
        process.stdout.write(
          `configuration OK (${config.source}): issuer ${config.issuer}, ${config.clients.length} client(s), ` +
            `${config.providers.length} provider(s) [${config.providers.map((p) => `${p.id}:${p.type}`).join(', ')}], store ${config.store.type}\n`,
        );
        for (const warning of config.warnings) process.stdout.write(`warning: ${warning}\n`);
        return 0;
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        process.stderr.write(`${error.message}\n`);
        return 1;
      }
    }
    case 'hash-password': {
      const password = await readPassword();
      if (password.length < 8) {
        process.stderr.write('refusing: a password needs at least 8 characters\n');
        return 1;
      }
      process.stdout.write(`${await hashPassword(password)}\n`);
      return 0;
    }
    case 'config-schema': {
      mkdirSync('schemas', { recursive: true });
      writeFileSync('schemas/config.schema.json', `${JSON.stringify(configJsonSchema(), null, 2)}\n`);
      writeFileSync('schemas/provider.schema.json', `${JSON.stringify(providerJsonSchema(), null, 2)}\n`);
      process.stdout.write('wrote schemas/config.schema.json and schemas/provider.schema.json\n');
      return 0;
    }
    case 'generate-jwks':
      process.stdout.write(`${JSON.stringify(await generateSigningJwks(), null, 2)}\n`);
      return 0;
    case 'generate-secret':
      process.stdout.write(`${randomBytes(32).toString('base64url')}\n`);
      return 0;
    case 'audit':
      if (process.argv[3] === 'verify') return auditVerify(process.argv.slice(4));
      process.stderr.write(AUDIT_VERIFY_USAGE);
      return 2;
    default:
      process.stderr.write('usage: vestibule <check-config | hash-password | config-schema | generate-jwks | generate-secret | audit verify>\n');
      return 2;
  }
}

process.exitCode = await run(process.argv[2]);
