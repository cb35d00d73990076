// The server-side QR code: an SVG of paths only, no script or event handler, its label escaped, oversized text refused.
import { describe, expect, it } from 'vitest';
import { qrSvg } from '../../src/mfa/qr.js';

describe('qrSvg', () => {
  it('renders an SVG image with an accessible name and nothing executable', async () => {
    const svg = await qrSvg('otpauth://totp/Vestibule:alice%40example.test?secret=JBSWY3DPEHPK3PXP&issuer=Vestibule', 'QR code: Vestibule');
    expect(svg).toMatch(/^<svg role="img" aria-label="QR code: Vestibule" focusable="false" xmlns="http:\/\/www.w3.org\/2000\/svg" viewBox="0 0 \d+ \d+"/);
    expect(svg.trim().endsWith('</svg>')).toBe(true);
    expect(svg).not.toMatch(/<script|javascript:|\son\w+=|<foreignObject|href=/i);
    expect(svg.match(/<(\w+)/g)!.every((tag) => tag === '<svg' || tag === '<path')).toBe(true);
  });

  it('escapes the label, and the QR text never appears in the markup', async () => {
    const svg = await qrSvg('otpauth://totp/x?secret=SECRETSECRET', '"><script>alert(1)</script>');
    expect(svg).not.toContain('<script');
    expect(svg).toContain('aria-label="&#34;&#62;&#60;script&#62;alert(1)&#60;/script&#62;"');
    expect(svg).not.toContain('SECRETSECRET');
  });

  it('refuses text longer than an otpauth URI can be', async () => {
    await expect(qrSvg('x'.repeat(1025), 'QR')).rejects.toThrow(RangeError);
  });
});
