// The `mfa` section of the configuration: TOTP, WebAuthn and recovery-code settings (documented in README).
import { z } from 'zod';

export const mfaConfigSchema = z
  .strictObject({
    issuerName: z
      .string()
      .trim()
      .min(1)
      .max(64)
      .regex(/^[^:]+$/, 'must not contain ":" (it separates issuer and account in authenticator apps)')
      .optional()
      .describe('Name authenticator apps show beside the account (default: branding.productName).'),
    maxFactorsPerAccount: z.number().int().min(1).max(50).default(10).describe('Most second factors one account may hold (TOTP, passkeys and the recovery-code set together).'),
    enrolmentTtlSeconds: z.number().int().min(60).max(3600).default(600).describe('How long a started enrolment (TOTP secret shown, passkey options issued) may be finished, seconds.'),
    maxFailedAttempts: z.number().int().min(3).max(100).default(10).describe('Second-factor answers (TOTP or recovery codes) an account may give in the window, counted before they are checked (a right answer gives them back); beyond it every answer is refused.'),
    failedAttemptsWindowSeconds: z.number().int().min(60).max(86_400).default(900).describe('Window of mfa.maxFailedAttempts, seconds (it starts at the first wrong answer).'),
    totp: z
      .strictObject({
        window: z.number().int().min(0).max(2).default(1).describe('Time steps of 30 s accepted before and after the current one (clock drift of the phone).'),
      })
      .prefault({}),
    webauthn: z
      .strictObject({
        rpName: z.string().trim().min(1).max(64).optional().describe('Relying-party name passkey dialogs show (default: branding.productName).'),
        userVerification: z.enum(['preferred', 'required', 'discouraged']).default('preferred').describe('Ask the authenticator to verify the user (PIN, biometrics).'),
        challengeTtlSeconds: z.number().int().min(30).max(600).default(300).describe('Lifetime of a registration or sign-in challenge, seconds (single use).'),
      })
      .prefault({}),
    recovery: z
      .strictObject({
        codeCount: z.number().int().min(4).max(20).default(10).describe('Recovery codes in a set (each 128 random bits, single use, shown once).'),
      })
      .prefault({}),
    accountSecurity: z
      .strictObject({
        reauthSeconds: z
          .number()
          .int()
          .min(30)
          .max(3600)
          .default(300)
          .describe('A second factor proved this recently (on the account security page, or in a step-up of this browser session) lets the user add or remove factors and regenerate recovery codes, seconds.'),
        signInUrl: z
          .url({ protocol: /^https?$/ })
          .optional()
          .describe('Where the account security page (/account/security) sends a browser without a broker session: an application that signs in through the broker. Absent: the demo app in development mode, otherwise a page asking to sign in through an application.'),
      })
      .prefault({})
      .describe('The account security page, where a signed-in user manages their second factors (README: Second factors).'),
  })
  .prefault({});

export type MfaConfig = z.output<typeof mfaConfigSchema>;
