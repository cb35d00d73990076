// LemonLDAP::NG's portal as a benchmark peer: Debian's packages, the demo users, one OIDC client, run under plackup on loopback, pinned.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { generateKeyPairSync } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { processCpuMs } from './cpu.js';
import { pinnedCommand, SERVER_CORE } from './pin.js';
import { BENCH_CLIENT } from './settings.js';

const PORTAL_PSGI = '/usr/share/lemonldap-ng/portal/htdocs/index.psgi';
const DEBIAN_CONFIG = '/var/lib/lemonldap-ng/conf/lmConf-1.json';
/** The demo authentication backend's users (login = password). */
export const LEMONLDAP_DEMO_USERS = ['dwho', 'rtyler', 'msmith'];
export const LEMONLDAP_PACKAGES = 'lemonldap-ng lemonldap-ng-fastcgi-server libplack-perl libstring-random-perl libgd-securityimage-perl libimage-magick-perl libio-string-perl';

/** Why the peer cannot run here (a missing package or Perl library), or undefined when it can. */
export function lemonldapMissing(): string | undefined {
  if (!existsSync(PORTAL_PSGI) || !existsSync(DEBIAN_CONFIG)) return 'the lemonldap-ng portal is not installed';
  const plackup = spawnSync('plackup', ['--version'], { stdio: 'ignore' });
  if (plackup.error || plackup.status !== 0) return 'plackup (libplack-perl) is not installed';
  // The portal loads these at start; a missing one fails its initialisation.
  const perl = spawnSync('perl', ['-MLemonldap::NG::Portal::Issuer::OpenIDConnect', '-MLemonldap::NG::Portal::Captcha::SecurityImage', '-e1'], { encoding: 'utf8' });
  if (perl.status !== 0) return `a Perl library of the portal is missing (${/Can't locate (\S+)/.exec(perl.stderr)?.[1] ?? perl.stderr.slice(0, 120)})`;
  return undefined;
}

/** The Debian package's version of the portal (dpkg), for the method facts. */
export function lemonldapVersion(): string {
  const dpkg = spawnSync('dpkg-query', ['-W', '-f', '${Version}', 'liblemonldap-ng-portal-perl'], { encoding: 'utf8' });
  return dpkg.status === 0 ? dpkg.stdout.trim() : 'unknown';
}

/** Writes a configuration (the Debian demo configuration with the OIDC issuer on, sessions in `dir`) and its ini file. */
function writeConfig(dir: string, port: number): string {
  const base = JSON.parse(readFileSync(DEBIAN_CONFIG, 'utf8')) as Record<string, unknown>;
  for (const sub of ['conf', 'sessions/lock', 'psessions/lock', 'notifications', 'cache']) mkdirSync(join(dir, sub), { recursive: true });
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs1', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
  const config = {
    ...base,
    cfgNum: 1,
    portal: `http://127.0.0.1:${port}/`,
    domain: '127.0.0.1',
    globalStorageOptions: { ...(base.globalStorageOptions as object), Directory: join(dir, 'sessions'), LockDirectory: join(dir, 'sessions/lock') },
    persistentStorageOptions: { Directory: join(dir, 'psessions'), LockDirectory: join(dir, 'psessions/lock') },
    localSessionStorageOptions: { ...(base.localSessionStorageOptions as object), cache_root: join(dir, 'cache') },
    notification: 0,
    notificationStorageOptions: { dirName: join(dir, 'notifications') },
    loginHistoryEnabled: 0,
    // The demo configuration's self-registration plugin needs an SMTP stack (MIME::Entity, Email::Sender) the flows never use.
    registerDB: 'Null',
    reloadUrls: {},
    issuerDBOpenIDConnectActivation: 1,
    oidcServicePrivateKeySig: privateKey,
    oidcServicePublicKeySig: publicKey,
    oidcServiceKeyIdSig: 'bench-rs256',
    oidcRPMetaDataExportedVars: { [BENCH_CLIENT.clientId]: { email: 'mail', name: 'cn' } },
    oidcRPMetaDataOptions: {
      [BENCH_CLIENT.clientId]: {
        oidcRPMetaDataOptionsClientID: BENCH_CLIENT.clientId,
        oidcRPMetaDataOptionsClientSecret: BENCH_CLIENT.clientSecret,
        oidcRPMetaDataOptionsRedirectUris: BENCH_CLIENT.redirectUri,
        oidcRPMetaDataOptionsBypassConsent: 1,
        oidcRPMetaDataOptionsIDTokenSignAlg: 'RS256',
        // Refresh tokens bound to the SSO session (2.16 has no rotation: the refresh response carries no new token).
        oidcRPMetaDataOptionsRefreshToken: 1,
        oidcRPMetaDataOptionsRequirePKCE: 1,
      },
    },
  };
  writeFileSync(join(dir, 'conf/lmConf-1.json'), JSON.stringify(config));
  const ini = join(dir, 'lemonldap-ng.ini');
  writeFileSync(ini, `[all]\nlogLevel = error\ncheckTime = 3600\n[configuration]\ntype = File\ndirName = ${join(dir, 'conf')}\n[portal]\nstaticPrefix = /static\ntemplateDir = /usr/share/lemonldap-ng/portal/templates\nlanguages = en\n`);
  return ini;
}

/** A running portal: plackup's default single-process server (HTTP::Server::PSGI, no access log), pinned to the servers' core. */
export class LemonLdapPortal {
  private stderr = '';

  private constructor(
    readonly url: string,
    private readonly child: ChildProcess,
    private readonly dir: string,
  ) {
    child.stderr?.on('data', (chunk: Buffer) => (this.stderr = (this.stderr + chunk.toString()).slice(-4000)));
  }

  static async start(port: number, timeoutMs = 60_000): Promise<LemonLdapPortal> {
    const dir = mkdtempSync(join(tmpdir(), 'vestibule-bench-llng-'));
    const ini = writeConfig(dir, port);
    const [command, ...args] = pinnedCommand(SERVER_CORE, ['plackup', '-E', 'deployment', '--host', '127.0.0.1', '--port', String(port), PORTAL_PSGI]);
    const child = spawn(command!, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, LLNG_DEFAULTCONFFILE: ini } });
    const portal = new LemonLdapPortal(`http://127.0.0.1:${port}`, child, dir);
    const deadline = Date.now() + timeoutMs;
    try {
      for (;;) {
        if (child.exitCode !== null) throw new Error(`LemonLDAP::NG exited with ${child.exitCode}\n${portal.stderr}`);
        const answer = await fetch(`${portal.url}/.well-known/openid-configuration`).catch(() => undefined);
        if (answer?.ok) break;
        if (answer) throw new Error(`LemonLDAP::NG discovery answered ${answer.status}\n${portal.stderr}`);
        if (Date.now() > deadline) throw new Error(`LemonLDAP::NG not ready after ${timeoutMs} ms\n${portal.stderr}`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    } catch (error) {
      // The caller gets no portal to stop when start fails: a plackup left running kept the scenario's process from exiting.
      await portal.stop();
      throw error;
    }
    return portal;
  }

  /** CPU ms of the plackup process (the portal runs in it). */
  cpuMs(): number {
    return processCpuMs(this.child.pid!);
  }

  recentStderr(): string {
    return this.stderr;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null) {
      const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
      this.child.kill('SIGTERM');
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
