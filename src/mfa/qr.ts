// An otpauth:// URI as a QR code in an SVG string, rendered on the server: no script, safe to embed in a page under a strict CSP.
import QRCode from 'qrcode';

/** The longest text accepted: an otpauth URI with issuer, label and secret is well under this. */
const MAX_TEXT = 1024;

const escapeAttribute = (value: string) => value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * Renders `text` as an SVG QR code (error correction M, a 4-module quiet zone). `label` becomes the image's accessible
 * name (role="img", aria-label); the page must also show the secret as text for those who cannot scan.
 */
export async function qrSvg(text: string, label: string): Promise<string> {
  if (text.length > MAX_TEXT) throw new RangeError(`QR text longer than ${MAX_TEXT} characters`);
  const svg = await QRCode.toString(text, { type: 'svg', errorCorrectionLevel: 'M', margin: 4 });
  // qrcode emits one <svg …> of <path> elements only; assert it, so a change of the library never reaches a page unchecked.
  if (!/^<svg [^>]*>(<path [^>]*\/>|<path [^>]*><\/path>)+<\/svg>\s*$/.test(svg)) throw new Error('unexpected SVG from the QR encoder');
  return svg.replace(/^<svg /, `<svg role="img" aria-label="${escapeAttribute(label)}" focusable="false" `);
}
