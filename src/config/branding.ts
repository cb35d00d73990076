// Branding of the broker's pages: the configured name, logo (URL or embedded file), accent colour and support link, resolved once at start.
import { readFileSync, statSync } from 'node:fs';
import { extname, resolve } from 'node:path';

export interface Branding {
  productName: string;
  /** The logo's src attribute (an https URL, a broker path or a data: URL), if one is configured. */
  logoSrc?: string;
  /** The origin the CSP's img-src must allow for an external logo URL. */
  logoOrigin?: string;
  accentColor: string;
  supportUrl?: string;
}

const MAX_LOGO_BYTES = 64 * 1024;
const LOGO_TYPES: Record<string, string> = { '.png': 'image/png', '.svg': 'image/svg+xml', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.webp': 'image/webp' };

/** WCAG 2.x contrast ratio of an #rrggbb colour against white. */
export function contrastWithWhite(hex: string): number {
  const channel = (offset: number) => {
    const c = parseInt(hex.slice(offset, offset + 2), 16) / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  const luminance = 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5);
  return 1.05 / (luminance + 0.05);
}

/** Reads the logo file into a data: URL (the CSP already allows data: images); problems go to `errors`. */
export function resolveBranding(
  input: { productName: string; logoUrl?: string | undefined; logoFile?: string | undefined; accentColor: string; supportUrl?: string | undefined },
  cwd: string,
  errors: string[],
): Branding {
  const branding: Branding = { productName: input.productName, accentColor: input.accentColor.toLowerCase(), ...(input.supportUrl ? { supportUrl: input.supportUrl } : {}) };
  if (input.logoUrl) {
    branding.logoSrc = input.logoUrl;
    if (input.logoUrl.startsWith('https://')) branding.logoOrigin = new URL(input.logoUrl).origin;
  }
  if (input.logoFile) {
    const path = resolve(cwd, input.logoFile);
    const type = LOGO_TYPES[extname(path).toLowerCase()];
    try {
      if (!type) errors.push(`branding.logoFile: must end in ${Object.keys(LOGO_TYPES).join(', ')}`);
      else if (statSync(path).size > MAX_LOGO_BYTES) errors.push(`branding.logoFile: larger than ${MAX_LOGO_BYTES / 1024} KiB`);
      else branding.logoSrc = `data:${type};base64,${readFileSync(path).toString('base64')}`;
    } catch (error) {
      errors.push(`branding.logoFile: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  return branding;
}
